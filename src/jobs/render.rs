//! Drawing episodes: rasterize an environment's [`Scene`]s and encode them as a GIF.

use crate::nn::Policy;
use saferl_envs::Env;
use saferl_envs::scene::Scene;
use std::path::{Path, PathBuf};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Transform};

/// Why an episode could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("this environment cannot be drawn")]
    NotDrawable,
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// The scenes of one greedy episode from `seed`, every `every`-th step (and the last).
pub fn record_episode(
    policy: &Policy,
    env: &mut dyn Env,
    seed: u64,
    every: usize,
) -> Result<(Vec<Scene>, f64), RenderError> {
    let mut observation = env.reset(seed);
    let mut scenes = vec![env.scene().ok_or(RenderError::NotDrawable)?];
    let mut total = 0.0;
    for step_index in 1.. {
        let step = env.step(&policy.act(&observation));
        total += step.reward;
        let last = step.terminated || step.truncated;
        if last || step_index % every.max(1) == 0 {
            scenes.push(env.scene().ok_or(RenderError::NotDrawable)?);
        }
        if last {
            break;
        }
        observation = step.observation;
    }
    Ok((scenes, total))
}

/// Draws `scene` into an image `width` pixels wide (height from the viewport's aspect).
pub fn rasterize(scene: &Scene, width: u32) -> Pixmap {
    let v = &scene.viewport;
    let scale = f64::from(width) / (v.x_max - v.x_min);
    let height = ((v.y_max - v.y_min) * scale).round().max(1.0) as u32;
    let mut pixmap = Pixmap::new(width.max(1), height).expect("non-zero image size");
    let [r, g, b] = scene.background;
    pixmap.fill(Color::from_rgba8(r, g, b, 255));
    let to_pixel = |[x, y]: [f64; 2]| {
        (
            ((x - v.x_min) * scale) as f32,
            ((v.y_max - y) * scale) as f32,
        )
    };
    for shape in &scene.shapes {
        let mut path = PathBuilder::new();
        for (i, &point) in shape.polygon.iter().enumerate() {
            let (px, py) = to_pixel(point);
            if i == 0 {
                path.move_to(px, py);
            } else {
                path.line_to(px, py);
            }
        }
        path.close();
        let Some(path) = path.finish() else { continue };
        let mut paint = Paint::default();
        let [r, g, b] = shape.rgb;
        paint.set_color_rgba8(r, g, b, 255);
        paint.anti_alias = true;
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    pixmap
}

/// Writes `frames` as a looping GIF, `delay_cs` hundredths of a second per frame.
pub fn write_gif(frames: &[Pixmap], path: &Path, delay_cs: u16) -> Result<(), RenderError> {
    let fail = |message: String| RenderError::Write {
        path: path.to_path_buf(),
        message,
    };
    let Some(first) = frames.first() else {
        return Err(fail("no frames".to_string()));
    };
    let (width, height) = (first.width() as u16, first.height() as u16);
    let mut bytes = Vec::new();
    {
        let mut encoder =
            gif::Encoder::new(&mut bytes, width, height, &[]).map_err(|e| fail(e.to_string()))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| fail(e.to_string()))?;
        for pixmap in frames {
            let mut rgba = pixmap.data().to_vec();
            let mut frame = gif::Frame::from_rgba_speed(width, height, &mut rgba, 10);
            frame.delay = delay_cs;
            encoder
                .write_frame(&frame)
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    crate::atomic::write(path, &bytes).map_err(|e| fail(e.to_string()))
}

/// Writes one frame as PNG.
pub fn write_png(frame: &Pixmap, path: &Path) -> Result<(), RenderError> {
    let fail = |message: String| RenderError::Write {
        path: path.to_path_buf(),
        message,
    };
    let bytes = frame.encode_png().map_err(|e| fail(e.to_string()))?;
    crate::atomic::write(path, &bytes).map_err(|e| fail(e.to_string()))
}
