//! "Test connection": tries every connection and setting of a profile and reports each result
//! as a line, the same for the headless worker's `check` and the tray app's button.

use crate::autotask::{AutotaskClient, Filter, Query, Resource, Role, TicketNote};
use crate::beyondtrust::BeyondTrustClient;
use crate::config::Profile;

/// Checks a profile, handing each result line to `out`; returns how many checks failed.
pub async fn profile(profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    beyondtrust(profile, out).await + autotask(profile, out).await
}

async fn beyondtrust(profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    let client = match BeyondTrustClient::new(profile.beyondtrust.clone()) {
        Ok(c) => c,
        Err(e) => {
            out(&format!("✗ BeyondTrust: {e}"));
            return 1;
        }
    };
    match client.get_api_info().await {
        Ok(info) => {
            out(&format!(
                "✓ BeyondTrust {}: OAuth works; API {}; Command API {}",
                profile.beyondtrust.host,
                info.api_version.as_deref().unwrap_or("(version not given)"),
                info.permission("perm_command").unwrap_or("(not given)")
            ));
            if info.can_read_support_reports() {
                out("✓ BeyondTrust: the API account may read support session reports");
                0
            } else {
                out(
                    "✗ BeyondTrust: the API account may not read support session reports — allow it in /login › Management › API Configuration",
                );
                1
            }
        }
        Err(e) => {
            out(&format!("✗ {e}"));
            1
        }
    }
}

async fn autotask(profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    let client = match AutotaskClient::new(profile.autotask.clone()) {
        Ok(c) => c,
        Err(e) => {
            out(&format!("✗ Autotask: {e}"));
            return 1;
        }
    };
    match client.zone().await {
        Ok(zone) => out(&format!("✓ Autotask zone: {} (web {})", zone.api_root, zone.web_root)),
        Err(e) => {
            out(&format!("✗ {e}"));
            return 1;
        }
    }
    let mut failures = 0;
    match client.refresh_usage().await {
        Ok(u) => out(&format!("✓ Autotask: {} of {} requests used this hour", u.used, u.limit)),
        Err(e) => {
            out(&format!("✗ {e}"));
            failures += 1;
        }
    }
    failures += note_type(&client, profile, out).await;
    if profile.update_time_entry {
        failures += time_entry_setup(&client, profile, out).await;
    }
    failures
}

async fn note_type(client: &AutotaskClient, profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    match client.fields::<TicketNote>().await {
        Ok(fields) => {
            match fields.picklist("noteType").and_then(|p| p.label_of(profile.note_type).map(str::to_owned)) {
                Some(label) => {
                    out(&format!("✓ Autotask note type {} is \"{label}\"", profile.note_type));
                    0
                }
                None => {
                    out(&format!(
                        "✗ Autotask has no note type {}; set note_type to one of its note types",
                        profile.note_type
                    ));
                    1
                }
            }
        }
        Err(e) => {
            out(&format!("✗ {e}"));
            1
        }
    }
}

async fn time_entry_setup(client: &AutotaskClient, profile: &Profile, out: &mut (dyn FnMut(&str) + Send)) -> usize {
    let defaults = &profile.time_entry_default_data;
    let mut failures = 0;
    let role = defaults.role_name().unwrap_or_default();
    match client.query_page::<Role>(&Query::new(Filter::eq("name", role))).await {
        Ok(page) if !page.items.is_empty() => out(&format!("✓ Autotask role \"{role}\" found")),
        Ok(_) => {
            out(&format!("✗ Autotask has no role \"{role}\"; correct roleName in Time Entry Default Data"));
            failures += 1;
        }
        Err(e) => {
            out(&format!("✗ {e}"));
            failures += 1;
        }
    }
    let domain = defaults.default_domain().unwrap_or_default();
    let query = Query::new(Filter::ends_with("email", format!("@{domain}"))).and(Filter::eq("isActive", true));
    match client.count::<Resource>(&query).await {
        Ok(0) => {
            out(&format!("✗ no active Autotask resource has an e-mail @{domain}; correct defaultDomain"));
            failures += 1;
        }
        Ok(n) => out(&format!("✓ {n} active Autotask resource(s) have e-mails @{domain}")),
        Err(e) => {
            out(&format!("✗ {e}"));
            failures += 1;
        }
    }
    failures
}
