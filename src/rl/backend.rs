//! Which Burn CPU backend trains the networks.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Burn's CPU backends. `flex` is the default: it is measured faster (see README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Flex,
    Ndarray,
}

/// The Burn device a config asks for, with autodiff.
pub fn training_device(backend: Backend) -> Device {
    let device = match backend {
        Backend::Flex => Device::flex(),
        #[allow(deprecated)] // kept as the measured baseline; flex is the default
        Backend::Ndarray => Device::ndarray(),
    };
    device.autodiff()
}
