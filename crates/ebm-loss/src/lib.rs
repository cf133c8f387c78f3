//! The LeCun loss family for energy-based models, and the most offending incorrect answer.
