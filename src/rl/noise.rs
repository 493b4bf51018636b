//! Exploration noise for DDPG, in the actor's normalized action space `[-1, 1]`.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Exploration noise added to the actor's action during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseConfig {
    pub kind: NoiseKind,
    /// Standard deviation, as a fraction of each action's half-range.
    pub sigma: f64,
    /// Mean-reversion rate of the Ornstein-Uhlenbeck process.
    pub theta: f64,
    /// `sigma` is multiplied by this after every episode…
    pub decay: f64,
    /// …but never goes below this.
    pub sigma_min: f64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            kind: NoiseKind::OrnsteinUhlenbeck,
            sigma: 0.2,
            theta: 0.15,
            decay: 1.0,
            sigma_min: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    Gaussian,
    OrnsteinUhlenbeck,
}

/// Gaussian or Ornstein-Uhlenbeck noise whose scale decays per episode.
///
/// Its whole state is serializable so a resumed run draws the same noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    kind: NoiseKind,
    sigma: f64,
    theta: f64,
    decay: f64,
    sigma_min: f64,
    /// OU process state (unused for Gaussian noise).
    state: Vec<f64>,
}

impl Noise {
    pub fn new(config: &NoiseConfig, act_dim: usize) -> Self {
        Self {
            kind: config.kind,
            sigma: config.sigma,
            theta: config.theta,
            decay: config.decay,
            sigma_min: config.sigma_min,
            state: vec![0.0; act_dim],
        }
    }

    /// Current standard deviation (logged so the decay is visible).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// Draws the next noise vector.
    pub fn sample(&mut self, rng: &mut impl Rng) -> Vec<f64> {
        let sigma = self.sigma;
        let theta = self.theta;
        let kind = self.kind;
        self.state.iter_mut().for_each(|x| {
            let n: f64 = StandardNormal.sample(rng);
            *x = match kind {
                NoiseKind::Gaussian => sigma * n,
                NoiseKind::OrnsteinUhlenbeck => *x - theta * *x + sigma * n,
            };
        });
        self.state.clone()
    }

    /// Starts a new episode: resets the OU state and applies the decay.
    pub fn end_episode(&mut self) {
        self.state.iter_mut().for_each(|x| *x = 0.0);
        self.sigma = (self.sigma * self.decay).max(self.sigma_min);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gaussian_noise_has_the_configured_spread_and_decays() {
        let config = NoiseConfig {
            kind: NoiseKind::Gaussian,
            sigma: 0.5,
            decay: 0.5,
            sigma_min: 0.2,
            ..NoiseConfig::default()
        };
        let mut noise = Noise::new(&config, 1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let draws: Vec<f64> = (0..20_000).map(|_| noise.sample(&mut rng)[0]).collect();
        let var = draws.iter().map(|x| x * x).sum::<f64>() / draws.len() as f64;
        assert!((var.sqrt() - 0.5).abs() < 0.02, "std {}", var.sqrt());
        noise.end_episode();
        assert_eq!(noise.sigma(), 0.25);
        noise.end_episode();
        assert_eq!(noise.sigma(), 0.2);
    }

    #[test]
    fn ou_noise_is_correlated_in_time() {
        let config = NoiseConfig::default();
        let mut noise = Noise::new(&config, 1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let draws: Vec<f64> = (0..20_000).map(|_| noise.sample(&mut rng)[0]).collect();
        let lag1 = draws.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
        let lag0 = draws.iter().map(|x| x * x).sum::<f64>();
        // Stationary AR(1) with coefficient 1 - θ = 0.85.
        assert!(
            (lag1 / lag0 - 0.85).abs() < 0.03,
            "autocorrelation {}",
            lag1 / lag0
        );
    }
}
