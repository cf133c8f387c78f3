//! Latent-variable energies: soft-min marginalisation and joint inference over z.
