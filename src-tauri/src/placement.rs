//! Where the window opens: next to the tray. Windows and macOS say where the tray icon is when it
//! is clicked. Linux tray menus (AppIndicator) say nothing, so there the window opens by the
//! pointer when the rep picks a menu item (the menu hangs from the icon), and otherwise in the
//! corner of the screen where the desktop's panel — and so its tray — is.
//!
//! Everything here is in physical pixels of the virtual screen, as the OS reports them.

use tauri::{Monitor, PhysicalPosition, PhysicalSize, Runtime, WebviewWindow};

/// What the window should open next to.
#[derive(Debug, Clone, Copy)]
pub enum Near {
    /// The tray icon, where the desktop reports it (a click on Windows and macOS).
    Icon(tauri::Rect),
    /// The pointer: the rep just picked an item of the tray's menu.
    Pointer,
    /// Nothing known (at start, a second launch, a notification): the corner by the panel.
    Panel,
}

/// The space between the window and the icon or the screen's edge, in logical pixels.
const GAP: f64 = 8.0;

/// Moves the (hidden) window next to `near`; where the desktop tells too little, it stays.
pub fn place<R: Runtime>(window: &WebviewWindow<R>, near: Near) {
    let anchor = anchor_of(window, near);
    let monitors = window.available_monitors().unwrap_or_default();
    let monitor = anchor
        .and_then(|at| monitors.into_iter().find(|m| screen_of(m).contains(at.x, at.y)))
        .or_else(|| window.primary_monitor().ok().flatten());
    let (Some(monitor), Some(size)) = (monitor, size_of(window)) else { return };
    let work = Rect::physical(monitor.work_area().position, monitor.work_area().size);
    let gap = (GAP * monitor.scale_factor()).round() as i32;
    let (x, y) = match anchor {
        Some(anchor) => next_to(anchor, size, work, gap),
        None => by_panel(screen_of(&monitor), work, size, gap),
    };
    if let Err(e) = window.set_position(PhysicalPosition::new(x, y)) {
        tracing::debug!("the window could not be moved by the tray: {e}");
    }
}

/// The rectangle to open next to: the icon's, or a point at the pointer.
fn anchor_of<R: Runtime>(window: &WebviewWindow<R>, near: Near) -> Option<Rect> {
    match near {
        Near::Icon(icon) => {
            let scale = window.scale_factor().unwrap_or(1.0);
            Some(Rect::physical(icon.position.to_physical(scale), icon.size.to_physical(scale)))
        }
        // Where the pointer cannot be read (Wayland), tao says the origin, never a tray menu's spot.
        Near::Pointer => {
            let at = window.cursor_position().ok().filter(|at| (at.x, at.y) != (0.0, 0.0))?;
            Some(Rect::physical(at.cast(), PhysicalSize::new(0, 0)))
        }
        Near::Panel => None,
    }
}

/// The window's size with its frame. Until a window is first shown, tao on Linux reports its
/// origin as its outer size, so the outer size counts only when it is the inner size plus at
/// most a frame's worth.
fn size_of<R: Runtime>(window: &WebviewWindow<R>) -> Option<(i32, i32)> {
    const FRAME: u32 = 200;
    let inner = window.inner_size().ok()?;
    let outer = window.outer_size().ok().filter(|outer| {
        (inner.width..=inner.width + FRAME).contains(&outer.width)
            && (inner.height..=inner.height + FRAME).contains(&outer.height)
    });
    let size = outer.unwrap_or(inner);
    Some((size.width as i32, size.height as i32))
}

fn screen_of(monitor: &Monitor) -> Rect {
    Rect::physical(*monitor.position(), *monitor.size())
}

/// A rectangle: a tray icon, a monitor, or a monitor's work area (the monitor less its panels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    width: i32,
    height: i32,
}

impl Rect {
    fn physical(at: PhysicalPosition<i32>, size: PhysicalSize<u32>) -> Rect {
        Rect { x: at.x, y: at.y, width: size.width as i32, height: size.height as i32 }
    }

    fn right(&self) -> i32 {
        self.x + self.width
    }

    fn bottom(&self) -> i32 {
        self.y + self.height
    }

    fn contains(&self, x: i32, y: i32) -> bool {
        (self.x..self.right()).contains(&x) && (self.y..self.bottom()).contains(&y)
    }
}

/// Top-left corner for a window of `size` (width, height) next to `icon`: centred on it, below
/// it when it is in the top half of the work area, else above, and wholly inside the work area.
fn next_to(icon: Rect, size: (i32, i32), work: Rect, gap: i32) -> (i32, i32) {
    let (width, height) = size;
    let x = icon.x + icon.width / 2 - width / 2;
    let y =
        if icon.y + icon.height / 2 < work.y + work.height / 2 { icon.bottom() + gap } else { icon.y - gap - height };
    inside(x, y, size, work, gap)
}

/// Top-left corner for a window of `size` in the corner of the work area by the desktop's
/// panel: the panel is wherever `screen` and `work` differ. A top or bottom panel counts before
/// a side one (Ubuntu's dock is on the left, its tray in the top bar); the tray is at the right
/// end of a panel, or at the bottom of a side panel. With no panel, bottom right, where the
/// tray is on most desktops.
fn by_panel(screen: Rect, work: Rect, size: (i32, i32), gap: i32) -> (i32, i32) {
    let (width, height) = size;
    let top = work.y - screen.y;
    let bottom = screen.bottom() - work.bottom();
    let left = work.x - screen.x;
    let right = screen.right() - work.right();
    let x = if left > 0 && top <= 0 && bottom <= 0 && right <= 0 { work.x + gap } else { work.right() - gap - width };
    let y = if top > 0 && top > bottom { work.y + gap } else { work.bottom() - gap - height };
    inside(x, y, size, work, gap)
}

/// Moves a window's corner so the window lies inside the work area, `gap` from its edges where
/// it fits; a window larger than the work area keeps its top-left corner (title bar) inside.
fn inside(x: i32, y: i32, (width, height): (i32, i32), work: Rect, gap: i32) -> (i32, i32) {
    let clamp = |value: i32, start: i32, length: i32, size: i32| {
        let low = start + gap.min((length - size).max(0) / 2);
        let high = (start + length - gap - size).max(low);
        value.clamp(low, high)
    };
    (clamp(x, work.x, work.width, width), clamp(y, work.y, work.height, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: (i32, i32) = (560, 640);
    const GAP: i32 = 8;

    fn rect(x: i32, y: i32, width: i32, height: i32) -> Rect {
        Rect { x, y, width, height }
    }

    fn full_hd() -> Rect {
        rect(0, 0, 1920, 1080)
    }

    #[test]
    fn windows_taskbar_icon_opens_the_window_above_it() {
        let work = rect(0, 0, 1920, 1032);
        let icon = rect(1400, 1040, 24, 32);
        assert_eq!(next_to(icon, WINDOW, work, GAP), (1132, 384));
    }

    #[test]
    fn an_icon_in_the_corner_keeps_the_window_on_the_screen() {
        let work = rect(0, 0, 1920, 1032);
        let icon = rect(1890, 1040, 24, 32);
        assert_eq!(next_to(icon, WINDOW, work, GAP), (1920 - 8 - 560, 1032 - 8 - 640));
    }

    #[test]
    fn macos_menu_bar_icon_opens_the_window_below_it() {
        let work = rect(0, 50, 2880, 1750);
        let icon = rect(2400, 0, 44, 48);
        assert_eq!(next_to(icon, WINDOW, work, GAP), (2142, 58));
    }

    #[test]
    fn a_second_monitor_left_of_the_first_is_respected() {
        let work = rect(-1280, 0, 1280, 1024);
        let pointer = rect(-200, 20, 0, 0);
        assert_eq!(next_to(pointer, WINDOW, work, GAP), (-1280 + 1280 - 8 - 560, 28));
    }

    #[test]
    fn gnome_top_bar_puts_the_window_top_right() {
        let work = rect(0, 32, 1920, 1048);
        assert_eq!(by_panel(full_hd(), work, WINDOW, GAP), (1352, 40));
    }

    #[test]
    fn ubuntu_dock_on_the_left_still_means_the_top_bar() {
        let work = rect(64, 32, 1856, 1048);
        assert_eq!(by_panel(full_hd(), work, WINDOW, GAP), (1352, 40));
    }

    #[test]
    fn kde_bottom_panel_puts_the_window_bottom_right() {
        let work = rect(0, 0, 1920, 1036);
        assert_eq!(by_panel(full_hd(), work, WINDOW, GAP), (1352, 1036 - 8 - 640));
    }

    #[test]
    fn a_lone_left_panel_puts_the_window_bottom_left() {
        let work = rect(48, 0, 1872, 1080);
        assert_eq!(by_panel(full_hd(), work, WINDOW, GAP), (56, 432));
    }

    #[test]
    fn no_panel_means_bottom_right() {
        assert_eq!(by_panel(full_hd(), full_hd(), WINDOW, GAP), (1352, 432));
    }

    #[test]
    fn a_window_taller_than_the_screen_keeps_its_title_bar_visible() {
        let small = rect(0, 0, 800, 600);
        assert_eq!(by_panel(small, small, WINDOW, GAP), (232, 0));
        let icon = rect(700, 580, 16, 16);
        assert_eq!(next_to(icon, WINDOW, small, GAP), (232, 0));
    }

    #[test]
    fn contains_takes_the_top_left_edges_and_not_the_bottom_right() {
        let screen = full_hd();
        assert!(screen.contains(0, 0) && screen.contains(1919, 1079));
        assert!(!screen.contains(1920, 500) && !screen.contains(500, 1080) && !screen.contains(-1, 0));
    }
}
