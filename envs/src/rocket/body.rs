//! The rigid bodies of the scene (rocket body, legs, nozzle, barge, sea floor) and the
//! Rapier world holding them.
//!
//! Dimensions are the reference's pixel sizes divided by its `SCALE = 30`, in metres.
//! The rocket body's origin is its bottom centre, as in the reference (Box2D's
//! `lander.position`), and that point is what the observation reports.

use rapier2d::prelude::*;

/// Half the width of the rocket body (reference `LANDER_RADIUS = 10` px).
pub const BODY_HALF_WIDTH: f64 = 10.0 / 30.0;
/// Height of the rocket body (reference `LANDER_LENGTH = 227` px).
pub const BODY_HEIGHT: f64 = 227.0 / 30.0;
/// Density of every rocket part (kg/m²).
const DENSITY: f64 = 5.0;
/// Dry-plus-fuel mass of the body alone at the start of an episode (≈ 25.22 kg).
pub const BODY_MASS: f64 = DENSITY * 2.0 * BODY_HALF_WIDTH * BODY_HEIGHT;

/// Leg half extents (the reference's `box(LEG_W, LEG_H)` takes half extents: 3 px × 227/8 px).
pub const LEG_HALF_EXTENTS: [f64; 2] = [3.0 / 30.0, 227.0 / 8.0 / 30.0];
/// Where each leg hinges on the body, `x` times the leg's side (±1), at the body's bottom.
const LEG_ANCHOR_ON_BODY_X: f64 = 0.3;
/// The hinge in the leg's own frame: `(−side · 0.5, 0.3)` (outside the leg box, as in the
/// reference, which gives the legs their splay).
const LEG_ANCHOR_ON_LEG: [f64; 2] = [0.5, 0.3];
/// Leg hinge limits, in degrees of outward rotation.
const LEG_LIMITS_DEG: [f64; 2] = [40.0, 45.0];
/// The leg motor drives the legs inward at this speed (rad/s) with at most
/// [`LEG_SPRING_TORQUE`]: pressed against the 40° stop in flight, it yields like a spring
/// towards 45° under load.
const LEG_MOTOR_SPEED: f64 = 0.3;
/// Gain of the leg motor's velocity servo: stiff, like Box2D's rigid motor constraint.
const LEG_MOTOR_GAIN: f32 = 1.0e4;
/// Maximal leg motor torque (reference `LANDER_LENGTH / 2 = 113.5`).
const LEG_SPRING_TORQUE: f64 = 113.5;
/// Box2D's default friction, which the reference's legs keep.
const LEG_FRICTION: f64 = 0.2;
/// Rocket body and nozzle friction.
const BODY_FRICTION: f64 = 0.1;

/// Nozzle half extents (5 px × 227/16 px).
pub const NOZZLE_HALF_EXTENTS: [f64; 2] = [5.0 / 30.0, 227.0 / 16.0 / 30.0];
/// The nozzle hinges at the body's origin, 0.2 m above the nozzle's own bottom centre.
pub const NOZZLE_HINGE_HEIGHT: f64 = 0.2;
/// Gimbal limit (15°).
pub const GIMBAL_LIMIT: f64 = 15.0 * std::f64::consts::PI / 180.0;
/// Maximal gimbal servo torque (reference `NOZZLE_TORQUE`).
const NOZZLE_TORQUE: f64 = 500.0;
/// Gimbal servo stiffness (1/s²) and damping (1/s): critically damped at 100 rad/s, so it
/// holds the angle the nozzle is set to each step.
const GIMBAL_STIFFNESS: f32 = 1.0e4;
const GIMBAL_DAMPING: f32 = 200.0;

/// World size (reference `W = int(1000 / 30)`, `H = int(800 / 30)`).
pub const WORLD_WIDTH: f64 = 33.0;
pub const WORLD_HEIGHT: f64 = 26.0;
/// Barge: top edge at 1.6 · H/8 = 5.2 m, from 0.35 W to 0.65 W, down to 0.1 m.
pub const BARGE_TOP: f64 = 5.2;
const BARGE_BOTTOM: f64 = 0.1;
pub const BARGE_HALF_LENGTH: f64 = 0.15 * WORLD_WIDTH;
/// Barge centre at reset: the landing target.
pub const BARGE_CENTER_X: f64 = 0.5 * WORLD_WIDTH;
/// Barge friction (the reference's `BARGE_FRICTION = 2`; an older version of its constants
/// has 1).
const BARGE_FRICTION: f64 = 2.0;
/// Flat sea floor at H/8, where the reference's random terrain is centred (it cannot be
/// reached before the altitude limit ends the episode).
pub const SEA_FLOOR: f64 = WORLD_HEIGHT / 8.0;
const SEA_FLOOR_FRICTION: f64 = 0.1;

/// Simulation step (s): the reference runs Box2D at 60 steps per second.
pub const DT: f64 = 1.0 / 60.0;

/// A part touches something when one of its contact points is within this gap (Box2D's
/// polygon skin).
const CONTACT_GAP: f32 = 0.01;

/// Pose and velocity of the rocket body: origin (bottom centre), angle, velocity of the
/// centre of mass (Box2D's `linearVelocity`), angular velocity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kinematics {
    pub x: f64,
    pub y: f64,
    pub angle: f64,
    pub vx: f64,
    pub vy: f64,
    pub omega: f64,
}

impl Kinematics {
    /// Velocity of the world point `p` if it were fixed to the rocket body.
    fn velocity_at(&self, p: [f64; 2]) -> [f64; 2] {
        let com = self.point([0.0, 0.5 * BODY_HEIGHT]);
        [
            self.vx - self.omega * (p[1] - com[1]),
            self.vy + self.omega * (p[0] - com[0]),
        ]
    }

    /// World coordinates of a point given in the body frame.
    pub fn point(&self, local: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.angle.sin_cos();
        [
            self.x + c * local[0] - s * local[1],
            self.y + s * local[0] + c * local[1],
        ]
    }
}

/// What touches the ground after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contacts {
    /// Per leg, in [`World::legs`] order.
    pub legs: [bool; 2],
    /// The body or the nozzle touches the barge or the sea floor.
    pub hull: bool,
}

/// The Rapier world and the handles of the scene's parts.
pub struct World {
    physics: PhysicsWorld,
    pub body: RigidBodyHandle,
    body_collider: ColliderHandle,
    /// Leg 0 hinges on the +x side (the reference's `legs[0]`), leg 1 on the −x side.
    pub legs: [RigidBodyHandle; 2],
    leg_colliders: [ColliderHandle; 2],
    pub nozzle: RigidBodyHandle,
    nozzle_collider: ColliderHandle,
    nozzle_joint: ImpulseJointHandle,
    barge: ColliderHandle,
}

/// Side of leg `i`: +1 for leg 0 (+x), −1 for leg 1.
pub fn leg_side(i: usize) -> f64 {
    if i == 0 { 1.0 } else { -1.0 }
}

fn vec2(v: [f64; 2]) -> Vector {
    Vector::new(v[0] as f32, v[1] as f32)
}

/// Rocket parts collide only with the ground, never with each other (the reference's
/// category/mask bits).
fn rocket_groups() -> InteractionGroups {
    InteractionGroups::new(Group::GROUP_2, Group::GROUP_1, InteractionTestMode::And)
}

fn ground_groups() -> InteractionGroups {
    InteractionGroups::new(Group::GROUP_1, Group::ALL, InteractionTestMode::And)
}

/// Box2D mixes frictions as `sqrt(f1 · f2)`; Rapier's geometric-mean rule does the same.
fn with_friction(builder: ColliderBuilder, friction: f64) -> ColliderBuilder {
    builder
        .friction(friction as f32)
        .friction_combine_rule(CoefficientCombineRule::GeometricMean)
        .restitution(0.0)
}

/// Mass properties of the body at `mass` as the reference has them: Box2D's mass setter
/// (how the reference burns fuel) keeps the centre of mass at half height and the inertia
/// about the body's origin at its full-tank value (≈ 482.3 kg·m²), so the inertia about the
/// centre of mass grows as fuel burns (121 → 193 kg·m² at an empty tank).
fn body_mass_properties(mass: f64) -> MassProperties {
    let (w, h) = (2.0 * BODY_HALF_WIDTH, BODY_HEIGHT);
    let lever2 = 0.25 * h * h;
    let inertia_about_origin = BODY_MASS * ((w * w + h * h) / 12.0 + lever2);
    MassProperties::new(
        Vector::new(0.0, (0.5 * h) as f32),
        mass as f32,
        (inertia_about_origin - mass * lever2) as f32,
    )
}

impl World {
    /// Builds the scene with the rocket body at `state`, legs resting on their 40° stops
    /// and the nozzle at `gimbal`, every part moving rigidly with the body.
    pub fn new(state: &Kinematics, gimbal: f64, body_mass: f64) -> Self {
        let mut physics = PhysicsWorld::new();
        physics.gravity = Vector::new(0.0, -9.81);
        physics.integration_parameters.dt = DT as f32;

        let ground = |b: ColliderBuilder, f| with_friction(b, f).collision_groups(ground_groups());
        let barge = physics.insert_collider(
            ground(
                ColliderBuilder::cuboid(
                    BARGE_HALF_LENGTH as f32,
                    (0.5 * (BARGE_TOP - BARGE_BOTTOM)) as f32,
                ),
                BARGE_FRICTION,
            )
            .translation(vec2([BARGE_CENTER_X, 0.5 * (BARGE_TOP + BARGE_BOTTOM)])),
            None,
        );
        physics.insert_collider(
            ground(
                ColliderBuilder::cuboid((0.5 * WORLD_WIDTH) as f32, (0.5 * SEA_FLOOR) as f32),
                SEA_FLOOR_FRICTION,
            )
            .translation(vec2([0.5 * WORLD_WIDTH, 0.5 * SEA_FLOOR])),
            None,
        );

        let part = |b: ColliderBuilder, f| with_friction(b, f).collision_groups(rocket_groups());
        let dynamic = |pose: ([f64; 2], f64), vel: ([f64; 2], f64)| {
            RigidBodyBuilder::dynamic()
                .pose(Pose::new(vec2(pose.0), pose.1 as f32))
                .linvel(vec2(vel.0))
                .angvel(vel.1 as f32)
                .can_sleep(false)
        };

        let (body, body_collider) = physics.insert(
            dynamic(
                ([state.x, state.y], state.angle),
                ([state.vx, state.vy], state.omega),
            )
            .additional_mass_properties(body_mass_properties(body_mass)),
            part(
                ColliderBuilder::cuboid(BODY_HALF_WIDTH as f32, (0.5 * BODY_HEIGHT) as f32)
                    .translation(vec2([0.0, 0.5 * BODY_HEIGHT]))
                    .density(0.0),
                BODY_FRICTION,
            ),
        );

        let mut legs = [body; 2];
        let mut leg_colliders = [body_collider; 2];
        for i in 0..2 {
            let side = leg_side(i);
            let angle = state.angle + side * LEG_LIMITS_DEG[0].to_radians();
            let hinge = state.point([side * LEG_ANCHOR_ON_BODY_X, 0.0]);
            let (s, c) = angle.sin_cos();
            let (ax, ay) = (-side * LEG_ANCHOR_ON_LEG[0], LEG_ANCHOR_ON_LEG[1]);
            let center = [hinge[0] - (c * ax - s * ay), hinge[1] - (s * ax + c * ay)];
            let (leg, collider) = physics.insert(
                dynamic((center, angle), (state.velocity_at(center), state.omega)),
                part(
                    ColliderBuilder::cuboid(LEG_HALF_EXTENTS[0] as f32, LEG_HALF_EXTENTS[1] as f32)
                        .density(DENSITY as f32),
                    LEG_FRICTION,
                ),
            );
            let limits = LEG_LIMITS_DEG.map(|d| (side * d).to_radians() as f32);
            physics.insert_impulse_joint(
                body,
                leg,
                RevoluteJointBuilder::new()
                    .local_anchor1(vec2([side * LEG_ANCHOR_ON_BODY_X, 0.0]))
                    .local_anchor2(vec2([ax, ay]))
                    .limits([limits[0].min(limits[1]), limits[0].max(limits[1])])
                    .motor_velocity((-side * LEG_MOTOR_SPEED) as f32, LEG_MOTOR_GAIN)
                    .motor_max_force(LEG_SPRING_TORQUE as f32),
            );
            legs[i] = leg;
            leg_colliders[i] = collider;
        }

        // Placed by `set_gimbal` below; its centre of mass stays within a few cm of here.
        let nozzle_com = state.point([0.0, NOZZLE_HALF_EXTENTS[1] - NOZZLE_HINGE_HEIGHT]);
        let (nozzle, nozzle_collider) = physics.insert(
            dynamic(
                ([state.x, state.y], state.angle),
                (state.velocity_at(nozzle_com), state.omega),
            ),
            part(
                ColliderBuilder::cuboid(
                    NOZZLE_HALF_EXTENTS[0] as f32,
                    NOZZLE_HALF_EXTENTS[1] as f32,
                )
                .translation(vec2([0.0, NOZZLE_HALF_EXTENTS[1]]))
                .density(DENSITY as f32),
                BODY_FRICTION,
            ),
        );
        let nozzle_joint = physics.insert_impulse_joint(
            body,
            nozzle,
            RevoluteJointBuilder::new()
                .local_anchor1(Vector::ZERO)
                .local_anchor2(vec2([0.0, NOZZLE_HINGE_HEIGHT]))
                .limits([-GIMBAL_LIMIT as f32, GIMBAL_LIMIT as f32])
                .motor_max_force(NOZZLE_TORQUE as f32),
        );

        // Rapier derives mass properties lazily at the next step; impulses applied before it
        // (the reset kick) need them now.
        for handle in [body, legs[0], legs[1], nozzle] {
            let rb = &mut physics.bodies[handle];
            rb.recompute_mass_properties_from_colliders(&physics.colliders);
        }
        let mut world = Self {
            physics,
            body,
            body_collider,
            legs,
            leg_colliders,
            nozzle,
            nozzle_collider,
            nozzle_joint,
            barge,
        };
        world.set_gimbal(gimbal);
        world
    }

    /// Pose and velocity of the rocket body.
    pub fn kinematics(&self) -> Kinematics {
        let rb = &self.physics.bodies[self.body];
        let (p, v) = (rb.translation(), rb.linvel());
        Kinematics {
            x: p.x as f64,
            y: p.y as f64,
            angle: rb.rotation().angle() as f64,
            vx: v.x as f64,
            vy: v.y as f64,
            omega: rb.angvel() as f64,
        }
    }

    /// Turns the nozzle to `gimbal` (relative to the body) about its hinge at once, and has
    /// the gimbal servo hold it there during the step. The reference sets the nozzle angle
    /// directly each step too. The nozzle keeps its velocity: setting it would change the
    /// rocket's momentum.
    pub fn set_gimbal(&mut self, gimbal: f64) {
        let gimbal = gimbal.clamp(-GIMBAL_LIMIT, GIMBAL_LIMIT);
        let state = self.kinematics();
        let angle = state.angle + gimbal;
        let (s, c) = angle.sin_cos();
        let origin = [
            state.x + NOZZLE_HINGE_HEIGHT * s,
            state.y - NOZZLE_HINGE_HEIGHT * c,
        ];
        let nozzle = &mut self.physics.bodies[self.nozzle];
        nozzle.set_position(Pose::new(vec2(origin), angle as f32), true);
        if let Some(joint) = self.physics.impulse_joints.get_mut(self.nozzle_joint, true) {
            joint.data.set_motor_position(
                JointAxis::AngX,
                gimbal as f32,
                GIMBAL_STIFFNESS,
                GIMBAL_DAMPING,
            );
        }
    }

    /// Sets the body's mass (fuel burns off).
    pub fn set_body_mass(&mut self, mass: f64) {
        let body = &mut self.physics.bodies[self.body];
        body.set_additional_mass_properties(body_mass_properties(mass), true);
        body.recompute_mass_properties_from_colliders(&self.physics.colliders);
    }

    /// Changes the body's momentum by `impulse` at its centre of mass: a Box2D force applied
    /// for one step (`ApplyForceToCenter` before `Step`) is the impulse `force · dt`.
    pub fn kick(&mut self, impulse: [f64; 2]) {
        self.physics.bodies[self.body].apply_impulse(vec2(impulse), true);
    }

    /// Applies `force` at the world point `point` of `part` during the next step only.
    pub fn add_force(&mut self, part: RigidBodyHandle, force: [f64; 2], point: [f64; 2]) {
        self.physics.bodies[part].add_force_at_point(vec2(force), vec2(point), true);
    }

    /// Advances one step of 1/60 s; forces added before it act during this step only, as
    /// Box2D clears forces after each step.
    pub fn step(&mut self) {
        self.physics.step();
        for (_, rb) in self.physics.bodies.iter_mut() {
            rb.reset_forces(false);
            rb.reset_torques(false);
        }
    }

    /// Which parts touch the ground now.
    pub fn contacts(&self) -> Contacts {
        let touching = |c: ColliderHandle| {
            self.physics.narrow_phase.contact_pairs_with(c).any(|pair| {
                pair.manifolds()
                    .iter()
                    .any(|m| m.points.iter().any(|p| p.dist <= CONTACT_GAP))
            })
        };
        Contacts {
            legs: self.leg_colliders.map(touching),
            hull: touching(self.body_collider) || touching(self.nozzle_collider),
        }
    }

    /// Horizontal centre of the barge (it may drift).
    pub fn barge_center_x(&self) -> f64 {
        self.physics.colliders[self.barge].translation().x as f64
    }

    /// Moves the barge sideways by `dx`.
    pub fn shift_barge(&mut self, dx: f64) {
        let barge = &mut self.physics.colliders[self.barge];
        let t = barge.translation();
        barge.set_translation(Vector::new(t.x + dx as f32, t.y));
    }

    /// Origin and angle of a part (the body's origin is its bottom centre, the nozzle's its
    /// exit centre, a leg's its centre).
    pub fn pose(&self, part: RigidBodyHandle) -> ([f64; 2], f64) {
        let rb = &self.physics.bodies[part];
        let t = rb.translation();
        ([t.x as f64, t.y as f64], rb.rotation().angle() as f64)
    }

    /// Total mass and linear momentum of the rocket's parts.
    #[cfg(test)]
    pub fn momentum(&self) -> (f64, [f64; 2]) {
        let parts = [self.body, self.legs[0], self.legs[1], self.nozzle];
        parts.iter().fold((0.0, [0.0; 2]), |(m, p), &h| {
            let rb = &self.physics.bodies[h];
            let (mi, v) = (rb.mass() as f64, rb.linvel());
            (m + mi, [p[0] + mi * v.x as f64, p[1] + mi * v.y as f64])
        })
    }

    /// Relative angle of leg `i`'s hinge (body → leg).
    #[cfg(test)]
    pub fn leg_angle(&self, i: usize) -> f64 {
        let b = &self.physics.bodies;
        (b[self.legs[i]].rotation().angle() - b[self.body].rotation().angle()) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_mass_and_inertia_match_the_reference() {
        let full = body_mass_properties(BODY_MASS);
        let lever2 = 0.25 * BODY_HEIGHT * BODY_HEIGHT;
        assert!((full.mass() as f64 - 25.2222).abs() < 1e-3);
        // Reference constants: MASS = 25.222, INERTIA = 482.2956 (about the bottom).
        let about_origin = full.principal_inertia() as f64 + BODY_MASS * lever2;
        assert!((about_origin - 482.2956).abs() < 1e-2, "{about_origin}");
        // Box2D's mass setter after 5 kg of fuel (measured with pybox2d 2.3.10): 192.84.
        let lighter = body_mass_properties(BODY_MASS - 5.0);
        assert!((lighter.principal_inertia() as f64 - 192.84).abs() < 1e-2);
    }
}
