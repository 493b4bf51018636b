//! The rocket-lander actors are unsafe (their README says so): the exact search must find,
//! for each agent, a property it violates, with a counterexample the network confirms.

mod reach_common;

use saferl::nn::nnet::read_nnet;
use saferl::spec::vnnlib::read_vnnlib;
use saferl::verify::reach::{self, Mode, Options, Verdict};

use reach_common::repo_data;

#[test]
fn every_agent_violates_a_property() {
    // Agents 0 and 1 tilt the wrong way on property 1, agent 2 on property 2 (which random
    // sampling of 200,000 points does not find).
    for (agent, prop) in [(0, 1), (1, 1), (2, 2)] {
        let property = read_vnnlib(&repo_data(&format!("rocket-agents/property{prop}.vnnlib")))
            .unwrap()
            .remove(0);
        let net = read_nnet(&repo_data(&format!(
            "rocket-agents/unsafe_agent{agent}.nnet"
        )))
        .unwrap()
        .net;
        let options = Options {
            mode: Mode::FirstCounterexample,
            attack_samples: 0, // the exact search must find it, not sampling
            ..Options::default()
        };
        let result = reach::verify(&net, &property, &options).unwrap();
        eprintln!(
            "agent {agent}, property {prop}: {} in {:.2} s",
            result.verdict, result.stats.seconds
        );
        assert_eq!(result.verdict, Verdict::Unsafe, "agent {agent}");
        let cex = result.counterexample.unwrap();
        let output = net.forward(&cex.input);
        assert_eq!(output, cex.output);
        assert!(property.violated_by(&cex.input, &output));
        // In the README's terms: the signs of z1, z2 are those of the actions a1, a2.
        let wrong_way = if prop == 1 {
            output[1] >= 0.0 && output[2] >= 0.0
        } else {
            output[1] <= 0.0 && output[2] <= 0.0
        };
        assert!(wrong_way && cex.input[6] == 0.0 && cex.input[7] == 0.0);
    }
}
