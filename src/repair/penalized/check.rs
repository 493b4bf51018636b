//! Exact reachability of an actor on every property of a config: the safety check that
//! opens and closes each repair pass.

use crate::nn::{NotMonotoneMappable, Policy, pre_tanh_property};
use crate::spec::Property;
use crate::verify::reach::{self, Mode, Options, ReachError, UnsafeRegion, Verdict};
use crate::verify::unsafe_volume;
use std::time::{Duration, Instant};

/// Why an actor could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("property `{property}`: {source}")]
    Mapping {
        property: String,
        source: NotMonotoneMappable,
    },
    #[error("property `{property}`: {source}")]
    Reach {
        property: String,
        source: ReachError,
    },
}

/// The verdict on one property, with every unsafe region found.
#[derive(Debug, Clone)]
pub struct PropertyCheck {
    pub name: String,
    pub verdict: Verdict,
    /// The unsafe regions (emptied by [`SafetyCheck::forget_regions`]).
    pub regions: Vec<UnsafeRegion>,
    /// How many regions and vertices were found (kept when the regions are dropped).
    pub region_count: usize,
    pub vertex_count: usize,
    /// Share of the property's input box inside the regions (uniform sampling).
    pub volume_fraction: f64,
}

/// The verdicts on all properties.
#[derive(Debug, Clone)]
pub struct SafetyCheck {
    pub properties: Vec<PropertyCheck>,
    pub seconds: f64,
}

impl SafetyCheck {
    /// Proved safe on every property (a timeout is not a proof).
    pub fn verified(&self) -> bool {
        self.properties.iter().all(|p| p.verdict == Verdict::Safe)
    }

    pub fn regions(&self) -> usize {
        self.properties.iter().map(|p| p.region_count).sum()
    }

    pub fn vertices(&self) -> usize {
        self.properties.iter().map(|p| p.vertex_count).sum()
    }

    /// Frees the regions, keeping their counts: an early-training actor can have millions
    /// of region vertices, which a repair pass no longer needs once it chose its starts.
    pub fn forget_regions(&mut self) {
        for p in &mut self.properties {
            p.regions = Vec::new();
        }
    }

    /// Mean unsafe volume fraction over the properties.
    pub fn volume_fraction(&self) -> f64 {
        let n = self.properties.len().max(1) as f64;
        self.properties
            .iter()
            .map(|p| p.volume_fraction)
            .sum::<f64>()
            / n
    }

    /// `name=verdict` for every property, for log lines.
    pub fn verdicts(&self) -> String {
        self.properties
            .iter()
            .map(|p| format!("{}={}", p.name, p.verdict))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs exact reachability ([`Mode::AllRegions`]) of `policy`'s pre-tanh network on each
/// property, whose action bounds are mapped exactly through the output transform.
///
/// Regions come back sorted by their vertices ([`reach::verify`] sorts them), so what
/// repair does with them does not depend on the order in which the parallel search met
/// them.
pub fn check(
    policy: &Policy,
    properties: &[Property],
    timeout: Duration,
    volume_samples: usize,
) -> Result<SafetyCheck, CheckError> {
    let started = Instant::now();
    let mut checks = Vec::with_capacity(properties.len());
    for property in properties {
        let mapped =
            pre_tanh_property(property, &policy.scaling).map_err(|source| CheckError::Mapping {
                property: property.name.clone(),
                source,
            })?;
        let options = Options {
            mode: Mode::AllRegions,
            timeout: Some(timeout),
            ..Options::default()
        };
        let result =
            reach::verify(&policy.net, &mapped, &options).map_err(|source| CheckError::Reach {
                property: property.name.clone(),
                source,
            })?;
        let volume_fraction = if result.regions.is_empty() {
            0.0
        } else {
            unsafe_volume(&mapped, &result.regions, volume_samples).fraction
        };
        checks.push(PropertyCheck {
            name: property.name.clone(),
            verdict: result.verdict,
            region_count: result.regions.len(),
            vertex_count: result.regions.iter().map(|r| r.vertices.len()).sum(),
            regions: result.regions,
            volume_fraction,
        });
    }
    Ok(SafetyCheck {
        properties: checks,
        seconds: started.elapsed().as_secs_f64(),
    })
}
