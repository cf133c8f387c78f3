//! Contrastive and non-contrastive losses, miners and model-sampled negatives.
