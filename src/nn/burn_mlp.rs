//! The Burn side of the networks: a ReLU MLP that trains, and its exact conversion to
//! and from [`ReluNet`].

use super::relu_net::{Layer, ReluNet};
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use rand::Rng;

/// A dense ReLU network in Burn: ReLU after every layer except the last.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// A fresh network `sizes[0] → … → sizes[n]`, initialized as in DDPG (Lillicrap et al.):
    /// hidden layers uniform in ±1/√fan_in, the output layer uniform in ±`final_scale`
    /// so the initial outputs are near zero.
    ///
    /// Initialization draws from `rng`, not Burn's global generator, so a run is a pure
    /// function of its seed.
    pub fn init(sizes: &[usize], final_scale: f64, rng: &mut impl Rng, device: &Device) -> Self {
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let (inputs, outputs) = (pair[0], pair[1]);
                let bound = if i == last {
                    final_scale
                } else {
                    1.0 / (inputs as f64).sqrt()
                };
                let mut draw = |n: usize| -> Vec<f32> {
                    (0..n)
                        .map(|_| rng.random_range(-bound..=bound) as f32)
                        .collect()
                };
                let weights = draw(inputs * outputs);
                let bias = draw(outputs);
                linear(weights, bias, inputs, outputs, device)
            })
            .collect();
        Self { layers }
    }

    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// The same network as exact f64 weights (f32 → f64 is lossless).
    pub fn to_relu_net(&self) -> ReluNet {
        let layers = self
            .layers
            .iter()
            .map(|linear| {
                let [inputs, outputs] = linear.weight.dims();
                // Burn stores weights inputs × outputs, row-major: that is W (outputs × inputs)
                // column-major, which is nalgebra's storage order.
                let weights = DMatrix::from_vec(outputs, inputs, to_f64(linear.weight.val()));
                let bias = match &linear.bias {
                    Some(b) => DVector::from_vec(to_f64(b.val())),
                    None => DVector::zeros(outputs),
                };
                Layer { weights, bias }
            })
            .collect();
        ReluNet::new(layers).expect("a Burn Mlp always has chained layer shapes")
    }

    /// A Burn network with the weights of `net`, rounded to f32 (exact for nets that came
    /// from Burn, which is the round trip that matters).
    pub fn from_relu_net(net: &ReluNet, device: &Device) -> Self {
        let layers = net
            .layers()
            .iter()
            .map(|layer| {
                let weights = layer.weights.as_slice().iter().map(|&w| w as f32).collect();
                let bias = layer.bias.iter().map(|&b| b as f32).collect();
                linear(weights, bias, layer.inputs(), layer.outputs(), device)
            })
            .collect();
        Self { layers }
    }

    /// `τ·online + (1 − τ)·self`, keeping this module's parameter ids and leaving the result
    /// outside any autodiff graph: the soft update of a DDPG target network.
    pub fn soft_update(self, online: &Mlp, tau: f64) -> Self {
        let blend = |target: Param<Tensor<2>>, source: &Param<Tensor<2>>| {
            let value = source.val().detach() * tau + target.val().detach() * (1.0 - tau);
            Param::initialized(target.id, value)
        };
        let blend1 = |target: Param<Tensor<1>>, source: &Param<Tensor<1>>| {
            let value = source.val().detach() * tau + target.val().detach() * (1.0 - tau);
            Param::initialized(target.id, value)
        };
        let layers = self
            .layers
            .into_iter()
            .zip(&online.layers)
            .map(|(target, source)| Linear {
                weight: blend(target.weight, &source.weight),
                bias: match (target.bias, &source.bias) {
                    (Some(t), Some(s)) => Some(blend1(t, s)),
                    (t, _) => t,
                },
            })
            .collect();
        Self { layers }
    }
}

fn linear(
    weights: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    device: &Device,
) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(weights, [inputs, outputs]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [outputs]),
            device,
        ))),
    }
}

fn to_f64<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .expect("Mlp parameters are f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn random_mlp(rng: &mut ChaCha8Rng) -> (Mlp, Device) {
        let device = Device::flex();
        // A large final scale so the output layer matters as much as the hidden ones.
        (Mlp::init(&[11, 20, 20, 20, 3], 0.5, rng, &device), device)
    }

    #[test]
    fn burn_and_relu_net_forward_agree() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mlp, device) = random_mlp(&mut rng);
        let net = mlp.to_relu_net();
        let inputs: Vec<Vec<f64>> = (0..64)
            .map(|_| (0..11).map(|_| rng.random_range(-3.0..3.0)).collect())
            .collect();
        let flat: Vec<f32> = inputs.iter().flatten().map(|&x| x as f32).collect();
        let burn_out = mlp
            .forward(Tensor::from_data(TensorData::new(flat, [64, 11]), &device))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let mut worst = 0.0f64;
        for (i, x) in inputs.iter().enumerate() {
            // Same f32-rounded input on both sides, so only arithmetic precision differs.
            let x32: Vec<f64> = x.iter().map(|&v| f64::from(v as f32)).collect();
            for (j, y) in net.forward(&x32).iter().enumerate() {
                worst = worst.max((y - f64::from(burn_out[i * 3 + j])).abs());
            }
        }
        assert!(worst < 1e-6, "largest difference {worst}");
    }

    #[test]
    fn burn_to_relu_net_round_trip_is_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (mlp, device) = random_mlp(&mut rng);
        let net = mlp.to_relu_net();
        let back = Mlp::from_relu_net(&net, &device).to_relu_net();
        assert_eq!(net, back);
        assert_eq!(net.layers()[0].weights.shape(), (20, 11));
        assert_eq!(net.output_dim(), 3);
    }

    #[test]
    fn soft_update_blends_towards_the_online_network() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (a, device) = random_mlp(&mut rng);
        let b = Mlp::init(&[11, 20, 20, 20, 3], 0.5, &mut rng, &device);
        let (na, nb) = (a.to_relu_net(), b.to_relu_net());
        let blended = a.soft_update(&b, 0.25).to_relu_net();
        let (wa, wb, wm) = (
            &na.layers()[1].weights,
            &nb.layers()[1].weights,
            &blended.layers()[1].weights,
        );
        let expected = wb * 0.25 + wa * 0.75;
        assert!((wm - expected).abs().max() < 1e-6);
    }
}
