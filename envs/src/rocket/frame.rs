//! A drawable snapshot of the scene, so a renderer elsewhere can draw the rocket without
//! knowing about the physics engine.

use crate::scene::{Scene, Shape, Viewport};

/// A rectangle of half extents `half_extents` centred at `center`, turned by `angle`
/// (radians, counter-clockwise). Metres, y up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartBox {
    pub center: [f64; 2],
    pub angle: f64,
    pub half_extents: [f64; 2],
}

impl PartBox {
    /// World coordinates of a point given in the box's frame (relative to its centre).
    fn point(&self, local: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.angle.sin_cos();
        [
            self.center[0] + c * local[0] - s * local[1],
            self.center[1] + s * local[0] + c * local[1],
        ]
    }

    fn shape(&self, rgb: [u8; 3]) -> Shape {
        Shape::rect(self.center, self.half_extents, self.angle, rgb)
    }
}

/// Everything a renderer needs to draw one step of the rocket lander.
#[derive(Debug, Clone, PartialEq)]
pub struct RocketFrame {
    /// World extent `[width, height]`; the origin is the bottom-left corner.
    pub world: [f64; 2],
    /// The rocket body (the centre of its bottom edge is the observed position).
    pub body: PartBox,
    /// Leg on the +x side of the body, then leg on the −x side.
    pub legs: [PartBox; 2],
    pub nozzle: PartBox,
    /// Barge as `[x_min, y_min, x_max, y_max]`.
    pub barge: [f64; 4],
    /// Height of the (flat) sea floor.
    pub sea_floor: f64,
    /// Main engine power used in the last step, 0 when off (else 0.3–0.6).
    pub main_power: f64,
    /// Side thruster power used in the last step, signed like the action (0 when off);
    /// the jet leaves the side of the body opposite the push.
    pub side_power: f64,
    /// Leg contacts, in [`RocketFrame::legs`] order.
    pub leg_contacts: [bool; 2],
}

const SKY: [u8; 3] = [212, 234, 255];
const SEA: [u8; 3] = [0, 110, 220];
const BARGE: [u8; 3] = [40, 40, 40];
const HULL: [u8; 3] = [245, 245, 245];
const LEG: [u8; 3] = [150, 150, 150];
const LEG_DOWN: [u8; 3] = [60, 170, 60];
const NOZZLE: [u8; 3] = [20, 20, 20];
const FLAME: [u8; 3] = [255, 140, 0];
const JET: [u8; 3] = [230, 230, 255];

impl RocketFrame {
    /// The frame as filled polygons: sea, barge, flames, legs (green when touching), nozzle
    /// and body. The flames' lengths grow with the engines' power.
    pub fn scene(&self) -> Scene {
        let [w, h] = self.world;
        let mut shapes = vec![
            Shape::rect(
                [0.5 * w, 0.5 * self.sea_floor],
                [0.5 * w, 0.5 * self.sea_floor],
                0.0,
                SEA,
            ),
            Shape {
                polygon: vec![
                    [self.barge[0], self.barge[1]],
                    [self.barge[2], self.barge[1]],
                    [self.barge[2], self.barge[3]],
                    [self.barge[0], self.barge[3]],
                ],
                rgb: BARGE,
            },
        ];
        if self.main_power > 0.0 {
            let [hx, hy] = self.nozzle.half_extents;
            let length = 4.0 * self.main_power;
            shapes.push(Shape {
                polygon: vec![
                    self.nozzle.point([-hx, -hy]),
                    self.nozzle.point([hx, -hy]),
                    self.nozzle.point([0.0, -hy - length]),
                ],
                rgb: FLAME,
            });
        }
        if self.side_power != 0.0 {
            // The jet leaves the side opposite the push, near the top of the body.
            let [hx, hy] = self.body.half_extents;
            let side = -self.side_power.signum();
            let length = 1.5 * self.side_power.abs();
            let y = hy - 5.0 / 30.0;
            shapes.push(Shape {
                polygon: vec![
                    self.body.point([side * hx, y + 0.1]),
                    self.body.point([side * (hx + length), y]),
                    self.body.point([side * hx, y - 0.1]),
                ],
                rgb: JET,
            });
        }
        for (leg, &down) in self.legs.iter().zip(&self.leg_contacts) {
            shapes.push(leg.shape(if down { LEG_DOWN } else { LEG }));
        }
        shapes.push(self.nozzle.shape(NOZZLE));
        shapes.push(self.body.shape(HULL));
        Scene {
            viewport: Viewport {
                x_min: 0.0,
                x_max: w,
                y_min: 0.0,
                y_max: h,
            },
            seconds_per_step: super::body::DT,
            background: SKY,
            shapes,
        }
    }
}
