//! A fixed-capacity ring buffer of transitions with uniform sampling.
//!
//! Stored as flat `f32` arrays (what Burn consumes) so a batch is a few slice copies and
//! the whole buffer serializes compactly into a checkpoint.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// One transition; `action` is in the actor's normalized space `[-1, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition<'a> {
    pub observation: &'a [f64],
    pub action: &'a [f64],
    pub reward: f64,
    pub next_observation: &'a [f64],
    /// True only for real terminal states (not step-limit truncation): no bootstrap.
    pub terminal: bool,
}

/// A batch of transitions as row-major `f32` matrices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub size: usize,
    pub observations: Vec<f32>,
    pub actions: Vec<f32>,
    pub rewards: Vec<f32>,
    pub next_observations: Vec<f32>,
    /// 1 where the transition was terminal, else 0.
    pub terminals: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayBuffer {
    capacity: usize,
    obs_dim: usize,
    act_dim: usize,
    /// Next slot to overwrite.
    cursor: usize,
    len: usize,
    observations: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_observations: Vec<f32>,
    terminals: Vec<f32>,
}

impl ReplayBuffer {
    pub fn new(capacity: usize, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            capacity,
            obs_dim,
            act_dim,
            cursor: 0,
            len: 0,
            observations: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_observations: Vec::new(),
            terminals: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Dimensions `(observation, action)` this buffer was made for.
    pub fn dims(&self) -> (usize, usize) {
        (self.obs_dim, self.act_dim)
    }

    /// The lowest reward held, if any.
    pub fn min_reward(&self) -> Option<f64> {
        self.rewards.iter().copied().reduce(f32::min).map(f64::from)
    }

    /// The stored observations (in storage order, not age order), widened back to f64:
    /// the states the agent has visited, e.g. as repair samples for a layer patch.
    pub fn observations(&self) -> impl Iterator<Item = Vec<f64>> + '_ {
        self.observations
            .chunks_exact(self.obs_dim.max(1))
            .map(|o| o.iter().map(|&v| f64::from(v)).collect())
    }

    /// Adds a transition, overwriting the oldest once full.
    pub fn push(&mut self, t: &Transition) {
        debug_assert_eq!(t.observation.len(), self.obs_dim);
        debug_assert_eq!(t.action.len(), self.act_dim);
        let terminal = if t.terminal { 1.0 } else { 0.0 };
        if self.len < self.capacity {
            self.observations
                .extend(t.observation.iter().map(|&x| x as f32));
            self.actions.extend(t.action.iter().map(|&x| x as f32));
            self.rewards.push(t.reward as f32);
            self.next_observations
                .extend(t.next_observation.iter().map(|&x| x as f32));
            self.terminals.push(terminal);
            self.len += 1;
        } else {
            let (o, a, i) = (self.obs_dim, self.act_dim, self.cursor);
            copy_f32(&mut self.observations[i * o..(i + 1) * o], t.observation);
            copy_f32(&mut self.actions[i * a..(i + 1) * a], t.action);
            self.rewards[i] = t.reward as f32;
            copy_f32(
                &mut self.next_observations[i * o..(i + 1) * o],
                t.next_observation,
            );
            self.terminals[i] = terminal;
        }
        self.cursor = (self.cursor + 1) % self.capacity;
    }

    /// Draws `size` transitions uniformly with replacement.
    ///
    /// # Panics
    /// If the buffer is empty.
    pub fn sample(&self, size: usize, rng: &mut impl Rng) -> Batch {
        assert!(!self.is_empty(), "sampling from an empty replay buffer");
        let (o, a) = (self.obs_dim, self.act_dim);
        let mut batch = Batch {
            size,
            observations: Vec::with_capacity(size * o),
            actions: Vec::with_capacity(size * a),
            rewards: Vec::with_capacity(size),
            next_observations: Vec::with_capacity(size * o),
            terminals: Vec::with_capacity(size),
        };
        for _ in 0..size {
            let i = rng.random_range(0..self.len);
            batch
                .observations
                .extend_from_slice(&self.observations[i * o..(i + 1) * o]);
            batch
                .actions
                .extend_from_slice(&self.actions[i * a..(i + 1) * a]);
            batch.rewards.push(self.rewards[i]);
            batch
                .next_observations
                .extend_from_slice(&self.next_observations[i * o..(i + 1) * o]);
            batch.terminals.push(self.terminals[i]);
        }
        batch
    }
}

/// Overwrites `slot` with `values` rounded to f32.
fn copy_f32(slot: &mut [f32], values: &[f64]) {
    slot.iter_mut()
        .zip(values)
        .for_each(|(s, &v)| *s = v as f32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn push(buffer: &mut ReplayBuffer, value: f64) {
        buffer.push(&Transition {
            observation: &[value, value],
            action: &[value],
            reward: value,
            next_observation: &[value + 1.0, value + 1.0],
            terminal: value > 2.5,
        });
    }

    #[test]
    fn overwrites_oldest_when_full_and_samples_whole_transitions() {
        let mut buffer = ReplayBuffer::new(3, 2, 1);
        for v in 0..5 {
            push(&mut buffer, v as f64);
        }
        assert_eq!(buffer.len(), 3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let batch = buffer.sample(200, &mut rng);
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..batch.size {
            let r = batch.rewards[k];
            seen.insert(r as i64);
            assert_eq!(batch.observations[2 * k], r);
            assert_eq!(batch.actions[k], r);
            assert_eq!(batch.next_observations[2 * k + 1], r + 1.0);
            assert_eq!(batch.terminals[k], if r > 2.5 { 1.0 } else { 0.0 });
        }
        // 0 and 1 were overwritten by 3 and 4.
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
        let mut states: Vec<Vec<f64>> = buffer.observations().collect();
        states.sort_by(|a, b| a[0].total_cmp(&b[0]));
        assert_eq!(states, [[2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]);
    }
}
