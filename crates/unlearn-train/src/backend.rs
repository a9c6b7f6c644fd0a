//! Choosing the burn backend at run time.

use crate::TrainError;
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// A burn backend selectable with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend, the fastest CPU choice (default).
    Flex,
    /// The ndarray CPU backend (kept supported and tested).
    Ndarray,
    /// A GPU through wgpu (Vulkan, Metal, DX12); needs the `wgpu` cargo feature.
    Wgpu,
}

impl Backend {
    /// Every backend name, for help texts and errors.
    pub const NAMES: &'static str = "flex, ndarray, wgpu";

    /// The device of this backend (without autodiff).
    pub fn device(self) -> Result<Device, TrainError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(TrainError::Backend(
                "this build has no wgpu backend; rebuild with `cargo build --release --features wgpu`".into(),
            )),
        }
    }
}

impl FromStr for Backend {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "flex" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            _ => Err(TrainError::Backend(format!(
                "unknown backend '{s}'; choose one of {}",
                Self::NAMES
            ))),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        })
    }
}
