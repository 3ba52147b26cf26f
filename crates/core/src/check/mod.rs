//! "Test connection": tries every connection and setting of a profile and reports each result
//! as a line, the same for the headless worker's `check` and the tray app's button. Beyond the
//! connections it looks for the settings Autotask would refuse only when a session ends — a
//! rep without the time entry role, Ticket Default Data naming a label or a half assignment —
//! so a desk fixes them before a session is lost to them.

mod autotask;
mod ticket_defaults;

use crate::beyondtrust::BeyondTrustClient;
use crate::config::Profile;

/// The lines of a check as they are found, and how many failed.
struct Report<'a> {
    out: &'a mut (dyn FnMut(&str) + Send),
    failures: usize,
}

impl Report<'_> {
    fn pass(&mut self, line: impl AsRef<str>) {
        (self.out)(&format!("✓ {}", line.as_ref()));
    }

    fn fail(&mut self, line: impl AsRef<str>) {
        (self.out)(&format!("✗ {}", line.as_ref()));
        self.failures += 1;
    }

    fn say(&mut self, line: impl AsRef<str>) {
        (self.out)(&format!("  {}", line.as_ref()));
    }
}

/// Checks a profile, handing each result line to `out`; returns how many checks failed.
pub async fn profile(profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    let mut report = Report { out, failures: 0 };
    beyondtrust(profile, &mut report).await;
    autotask::check(profile, &mut report).await;
    report.failures
}

async fn beyondtrust(profile: &Profile, r: &mut Report<'_>) {
    let client = match BeyondTrustClient::new(profile.beyondtrust.clone()) {
        Ok(c) => c,
        Err(e) => return r.fail(format!("BeyondTrust: {e}")),
    };
    match client.get_api_info().await {
        Ok(info) => {
            r.pass(format!(
                "BeyondTrust {}: OAuth works; API {}; Command API {}",
                profile.beyondtrust.host,
                info.api_version.as_deref().unwrap_or("(version not given)"),
                info.permission("perm_command").unwrap_or("(not given)")
            ));
            if info.can_read_support_reports() {
                r.pass("BeyondTrust: the API account may read support session reports");
            } else {
                r.fail(
                    "BeyondTrust: the API account may not read support session reports — allow it in /login › Management › API Configuration",
                );
            }
        }
        Err(e) => r.fail(e.to_string()),
    }
}

/// How long `check` lists a rep Autotask would not let the API user write as.
pub const REFUSED_REPS_LISTED: chrono::Duration = chrono::Duration::days(crate::worker::REFUSED_LISTED_DAYS);

/// The check line for the reps Autotask refused to let the API user write as this week; none
/// when there are none.
pub fn refused_reps_line(reps: &[String]) -> Option<String> {
    (!reps.is_empty()).then(|| {
        format!(
            "✗ Autotask did not let the API user write as {} this week, so their notes and time are the API user's, \
             written for them: {}",
            reps.join(", "),
            crate::worker::WHAT_TO_CHANGE
        )
    })
}
