//! Injected faults, shared by both stand-ins: answer matching requests with an error status —
//! the next N of them, or each with a probability — before or after carrying them out.

use serde::{Deserialize, Serialize};

/// Answer the next `count` requests matching `method` and `path` (a case-insensitive prefix)
/// with `status` — or, with `probability`, each matching request with that chance (up to
/// `count` times, unlimited when not given). With `after_processing` the request is carried
/// out first — the write happens — and the caller still sees the failure, as when a
/// connection drops late. With `errors` the answer is a refusal in those words (`{"errors": [...]}`),
/// as a rule the stand-in does not model would give.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Fault {
    #[serde(default = "any_method")]
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub after_processing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
}

fn any_method() -> String {
    "*".to_owned()
}

/// Takes one use of the first fault in `faults` that matches and strikes (shared by both stand-ins).
pub fn take_fault(faults: &mut Vec<Fault>, method: &str, path: &str) -> Option<Fault> {
    let path = path.to_ascii_lowercase();
    let index = faults.iter().position(|f| {
        (f.method == "*" || f.method.eq_ignore_ascii_case(method))
            && path.starts_with(&f.path.to_ascii_lowercase())
            && f.probability.is_none_or(|p| rand::random::<f64>() < p)
    })?;
    let fault = faults[index].clone();
    let left = fault.count.unwrap_or(if fault.probability.is_some() { u32::MAX } else { 1 }) - 1;
    if left == 0 {
        faults.remove(index);
    } else {
        faults[index].count = Some(left);
    }
    Some(fault)
}

/// A fault must strike at least once, with a chance between 0 and 1.
pub fn check_fault(f: Fault) -> Result<Fault, String> {
    if f.count == Some(0) {
        return Err("a fault needs a count of at least 1".to_owned());
    }
    if f.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Err("probability must be from 0 to 1".to_owned());
    }
    Ok(f)
}
