//! A drawable snapshot of an environment: filled polygons in world coordinates.
//!
//! Environments describe what they look like; the renderer (in the `saferl` crate)
//! rasterizes any [`Scene`] without knowing which simulator made it.

/// An axis-aligned window of the world to draw, in metres (y up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

/// One filled polygon (vertices in order, world coordinates) and its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub polygon: Vec<[f64; 2]>,
    pub rgb: [u8; 3],
}

impl Shape {
    /// A rectangle of the given half extents, centred at `center` and rotated by `angle`
    /// (radians, counter-clockwise).
    pub fn rect(center: [f64; 2], half_extents: [f64; 2], angle: f64, rgb: [u8; 3]) -> Self {
        let (sin, cos) = angle.sin_cos();
        let [hx, hy] = half_extents;
        let polygon = [[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]]
            .iter()
            .map(|[x, y]| [center[0] + cos * x - sin * y, center[1] + sin * x + cos * y])
            .collect();
        Self { polygon, rgb }
    }
}

/// Everything needed to draw one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub viewport: Viewport,
    /// Simulated seconds per environment step, so animations play in real time.
    pub seconds_per_step: f64,
    pub background: [u8; 3],
    /// Drawn in order: later shapes cover earlier ones.
    pub shapes: Vec<Shape>,
}
