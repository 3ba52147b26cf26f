//! The WebKitGTK settings the tray app starts with, shared with the benchmark's blank-window
//! floor (`examples/blank_window.rs`) so both are measured on the same footing.

/// The window is one small plain page, so the app keeps GTK and WebKitGTK off the GPU unless the
/// user's environment says otherwise. Measured by the app benchmark: GPU compositing costs about
/// 70 MB in the web process; and without the last three settings GTK (choosing GL visuals when
/// the display opens) and WebKit (asking EGL for the render device and DMA-BUF formats) each load
/// the GL driver into the app's own process — with Mesa's software rasterizer that is LLVM,
/// about 20 MB, for a window that never draws with GL.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn lighten_webkit() {
    let render_node = first_render_node();
    let settings = [
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
        // The DMA-BUF renderer only carries composited frames, which are off above.
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ("GDK_GL", "disable"),
        // What WebKit would otherwise ask EGL for; "none" where the machine has no GPU.
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", render_node.as_deref().unwrap_or("none")),
    ];
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            // SAFETY: called first thing in main, before any other thread exists that could
            // read the environment concurrently.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

/// The first DRM render node (`/dev/dri/renderD128` on most machines with a GPU).
#[cfg(target_os = "linux")]
fn first_render_node() -> Option<String> {
    std::fs::read_dir("/dev/dri")
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        .map(|e| e.path().to_string_lossy().into_owned())
        .min()
}

#[cfg(not(target_os = "linux"))]
pub fn lighten_webkit() {}
