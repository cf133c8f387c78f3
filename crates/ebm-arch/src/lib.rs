//! # ebm-arch
//!
//! The five energy-based architectures of the 2006 tutorial on `tch::nn`, with one trainer
//! for any of them and any `ebm-loss` loss:
//!
//! 1. [`Regression`]: E = ½‖G(x) − y‖², ŷ = G(x).
//! 2. [`ImplicitRegression`]: E = ½‖G_x(x) − G_y(y)‖², ŷ = the set of minima found by
//!    gradient descent with restarts.
//! 3. [`Binary`]: E = −y·G(x), y ∈ {−1, +1}.
//! 4. [`MultiClass`]: E(x, k) = G(x)\[k\], every class in one forward pass.
//! 5. [`LatentModel`]: E(x, y, z) = ½‖G(x, z) − y‖², z marginalised by `ebm-latent`
//!    (G(x, z) = G_x(x) + G_z(z), or one network on [x, z]).
//!
//! ```
//! use ebm_arch::{fit, Architecture, MlpConfig, MultiClass, Prediction, TrainConfig};
//! use ebm_loss::LossConfig;
//! use tch::{Device, Kind, Tensor};
//!
//! tch::manual_seed(0);
//! // Two well separated classes in 2-D.
//! let x = Tensor::cat(&[Tensor::randn([32, 2], (Kind::Float, Device::Cpu)) - 3.0,
//!                       Tensor::randn([32, 2], (Kind::Float, Device::Cpu)) + 3.0], 0);
//! let y = Tensor::cat(&[Tensor::zeros([32], (Kind::Int64, Device::Cpu)),
//!                       Tensor::ones([32], (Kind::Int64, Device::Cpu))], 0);
//! let model = MultiClass::new(2, 2, &MlpConfig::default(), Device::Cpu).unwrap();
//! let loss = LossConfig::Hinge { margin: 1.0 }.build().unwrap();
//! let config = TrainConfig { epochs: 20, batch_size: 16, ..TrainConfig::default() };
//! let history = fit(&model, loss.as_ref(), &x, &y, &config, 0, |_| {}).unwrap();
//! assert_eq!(history.epochs.len(), 20);
//! let Prediction::Finite { y: predicted, .. } = model.predict(&x).unwrap() else { unreachable!() };
//! let accuracy = f64::try_from(predicted.eq_tensor(&y).to_kind(Kind::Double).mean(Kind::Double)).unwrap();
//! assert!(accuracy > 0.95);
//! ```
//!
//!
//! Beside them, two architectures of the self-supervised and density methods:
//! [`Siamese`] encoders (joint embeddings, trained with `ebm-contrastive`'s NT-Xent, VICReg or
//! Barlow Twins) and [`DensityNet`] (an energy E(y) trained by contrastive divergence). All
//! of them train through one loop, [`learner::train`]: a model supplies the loss of a batch
//! and its probe ([`TrainStep`]); the loop owns seeding, batching, the optimiser, the
//! finite-loss check, progress and the [`History`].
//!
//! What it does not do: data sets, config files and reports (that is `ebm-lab`), and the
//! objectives themselves (`ebm-loss`, `ebm-contrastive`).

pub mod architecture;
pub mod checkpoint;
pub mod config;
pub mod density;
pub mod latent;
pub mod learner;
pub mod mlp;
pub mod models;
pub mod optim;
pub mod siamese;
pub mod trainer;

pub use architecture::{
    with_frozen_parameters, Answers, Architecture, ContinuousAnswers, CounterExamples, Integration,
    Prediction, YRange,
};
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::{ClassifierConfig, ImplicitRegressionConfig, LatentModelConfig, RegressionConfig};
pub use density::{DensityConfig, DensityEnergy, DensityNet};
pub use latent::{Coupling, LatentModel, LatentRegressionEnergy};
pub use learner::{
    train, train_from, EpochRecord, History, Probe, SampleProbe, TrainConfig, TrainStep,
};
pub use mlp::{spectral_power_iteration, Activation, Mlp, MlpConfig};
pub use models::{Binary, ImplicitRegression, MultiClass, Regression};
pub use optim::{Optimizer, OptimizerConfig, OptimizerState};
pub use siamese::{Siamese, SiameseConfig, SiameseScores, ViewsConfig};
pub use trainer::{batch_energies, fit, fit_from, train_step, BatchEnergies};
