//! Where the window opens: next to the tray. Windows and macOS say where the tray icon is when it
//! is clicked. Linux tray menus (AppIndicator) say nothing, so there the window opens by the
//! pointer when the rep picks a menu item (the menu hangs from the icon), and otherwise in the
//! corner of the screen where the desktop's panel — and so its tray — is.
//!
//! Positions are in physical pixels of the virtual screen, as the OS reports them; the window's
//! size is kept in logical pixels, because on a monitor with another scale factor the OS gives it
//! another physical size.

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
    let screens: Vec<Screen> = window.available_monitors().unwrap_or_default().iter().map(Screen::of).collect();
    let primary = window.primary_monitor().ok().flatten().map(|m| Screen::of(&m));
    let (Some(size), Ok(scale)) = (size_of(window), window.scale_factor()) else { return };
    let logical = (f64::from(size.0) / scale, f64::from(size.1) / scale);
    let Some((x, y)) = position(anchor_of(window, near), &screens, primary, logical) else { return };
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
fn size_of<R: Runtime>(window: &WebviewWindow<R>) -> Option<(u32, u32)> {
    const FRAME: u32 = 200;
    let inner = window.inner_size().ok()?;
    let outer = window.outer_size().ok().filter(|outer| {
        (inner.width..=inner.width + FRAME).contains(&outer.width)
            && (inner.height..=inner.height + FRAME).contains(&outer.height)
    });
    let size = outer.unwrap_or(inner);
    Some((size.width, size.height))
}

/// A monitor: all of it, its work area (less taskbars and panels), and its scale factor.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Screen {
    bounds: Rect,
    work: Rect,
    scale: f64,
}

impl Screen {
    fn of(monitor: &Monitor) -> Screen {
        Screen {
            bounds: Rect::physical(*monitor.position(), *monitor.size()),
            work: Rect::physical(monitor.work_area().position, monitor.work_area().size),
            scale: monitor.scale_factor(),
        }
    }
}

/// The window's top-left corner: next to `anchor` on the monitor that holds it, or (no anchor,
/// or one on no known monitor) by the panel of the primary monitor. `window` is the window's size
/// in logical pixels; on the chosen monitor it takes that monitor's scale.
fn position(
    anchor: Option<Rect>,
    screens: &[Screen],
    primary: Option<Screen>,
    window: (f64, f64),
) -> Option<(i32, i32)> {
    let on = anchor.and_then(|at| screens.iter().copied().find(|s| s.bounds.contains(at.x, at.y)));
    let screen = on.or(primary).or_else(|| screens.first().copied())?;
    let size = ((window.0 * screen.scale).round() as i32, (window.1 * screen.scale).round() as i32);
    let gap = (GAP * screen.scale).round() as i32;
    Some(match anchor.filter(|_| on.is_some()) {
        Some(anchor) => next_to(anchor, size, screen.work, gap),
        None => by_panel(screen.bounds, screen.work, size, gap),
    })
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

/// Top-left corner for a window of `size` (width, height) next to `icon`, wholly inside the work
/// area. An icon in a taskbar at the side (outside the work area, left or right) gets the window
/// beside the taskbar, level with the icon's bottom, as Windows' own flyouts open; otherwise the
/// window is centred on the icon, below it when the icon is in the top half of the screen (a
/// top taskbar, macOS's menu bar), else above it.
fn next_to(icon: Rect, size: (i32, i32), work: Rect, gap: i32) -> (i32, i32) {
    let (width, height) = size;
    let (x, y) = if icon.right() <= work.x {
        (work.x + gap, icon.bottom() - height)
    } else if icon.x >= work.right() {
        (work.right() - gap - width, icon.bottom() - height)
    } else if icon.y + icon.height / 2 < work.y + work.height / 2 {
        (icon.x + icon.width / 2 - width / 2, icon.bottom() + gap)
    } else {
        (icon.x + icon.width / 2 - width / 2, icon.y - gap - height)
    };
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

    /// Windows at 1920×1080 with its taskbar (40 px) on the given side.
    fn taskbar(side: &str) -> (Rect, Rect) {
        let work = match side {
            "bottom" => rect(0, 0, 1920, 1040),
            "top" => rect(0, 40, 1920, 1040),
            "left" => rect(62, 0, 1858, 1080),
            _ => rect(0, 0, 1858, 1080),
        };
        (full_hd(), work)
    }

    #[test]
    fn a_taskbar_on_each_side_gets_the_window_next_to_its_tray() {
        let cases = [
            // An icon in the bottom and top taskbars, and at the bottom of a side taskbar.
            ("bottom", rect(1500, 1044, 24, 32), (1232, 1040 - 8 - 640)),
            ("top", rect(1500, 4, 24, 32), (1232, 48)),
            ("left", rect(19, 980, 24, 32), (62 + 8, 1012 - 640)),
            ("right", rect(1877, 980, 24, 32), (1858 - 8 - 560, 1012 - 640)),
        ];
        for (side, icon, expected) in cases {
            let (screen, work) = taskbar(side);
            let at = position(Some(icon), &[Screen { bounds: screen, work, scale: 1.0 }], None, (560.0, 640.0));
            assert_eq!(at, Some(expected), "taskbar at the {side}");
        }
    }

    #[test]
    fn an_icon_on_a_second_monitor_with_another_scale_opens_the_window_there_at_its_size() {
        // A 100 % laptop screen, and a 4K monitor at 150 % to its right holding the taskbar.
        let laptop = Screen { bounds: rect(0, 0, 1920, 1080), work: rect(0, 0, 1920, 1032), scale: 1.0 };
        let big = Screen { bounds: rect(1920, 0, 3840, 2160), work: rect(1920, 0, 3840, 2088), scale: 1.5 };
        let icon = rect(4800, 2100, 36, 48);
        let at = position(Some(icon), &[laptop, big], Some(laptop), (560.0, 640.0));
        // 840 × 960 physical, centred on the icon, 12 px (8 × 1.5) above the taskbar.
        assert_eq!(at, Some((4818 - 420, 2088 - 12 - 960)));
        // On the laptop screen the same window is 560 × 640, 8 px above its taskbar.
        let icon = rect(1500, 1040, 24, 32);
        assert_eq!(position(Some(icon), &[laptop, big], Some(laptop), (560.0, 640.0)), Some((1232, 1032 - 8 - 640)));
    }

    #[test]
    fn a_monitor_at_a_negative_position_and_a_high_scale_keeps_the_window_inside_it() {
        let left = Screen { bounds: rect(-2560, -200, 2560, 1440), work: rect(-2560, -200, 2560, 1392), scale: 2.0 };
        let main = Screen { bounds: full_hd(), work: rect(0, 0, 1920, 1040), scale: 1.0 };
        let icon = rect(-60, 1200, 48, 48);
        let (x, y) = position(Some(icon), &[main, left], Some(main), (560.0, 640.0)).unwrap();
        assert_eq!((x, y), (-16 - 1120, 1192 - 16 - 1280));
        assert!(left.work.contains(x, y) && left.work.contains(x + 1120 - 1, y + 1280 - 1));
    }

    #[test]
    fn no_anchor_or_one_off_every_monitor_means_the_primary_monitors_panel_corner() {
        let laptop = Screen { bounds: full_hd(), work: rect(0, 0, 1920, 1040), scale: 1.25 };
        let expected = Some((1920 - 10 - 700, 1040 - 10 - 800));
        assert_eq!(position(None, &[laptop], Some(laptop), (560.0, 640.0)), expected);
        let lost = rect(9000, 9000, 24, 24);
        assert_eq!(position(Some(lost), &[laptop], Some(laptop), (560.0, 640.0)), expected);
        assert_eq!(position(None, &[], None, (560.0, 640.0)), None);
    }

    #[test]
    fn contains_takes_the_top_left_edges_and_not_the_bottom_right() {
        let screen = full_hd();
        assert!(screen.contains(0, 0) && screen.contains(1919, 1079));
        assert!(!screen.contains(1920, 500) && !screen.contains(500, 1080) && !screen.contains(-1, 0));
    }
}
