//! The desk's worker as every rep's gateway. Where a desk runs `bt-autotask-worker`, each rep's
//! app is enrolled once ([`enrol`]) and from then on shows only its own rep token; the worker
//! knows the rep by it ([`reps`]) and acts for that rep alone ([`server`], within [`limits`]):
//! it asks Autotask once per interval for every rep's changed tickets ([`feed`]) and tells each
//! app only of its own rep's, searches with what the whole desk looked up ([`search`]), and makes
//! session keys in the rep's own queue ([`keys`]), and serves the rep's own Activity and sessions
//! without a ticket ([`mine`]). The app's side is [`crate::desk::link`]; what both say is
//! [`crate::desk_api`]. The answer to a watch tells the app whether the worker writes the desk's
//! sessions, so that the app's embedded worker stands down — one writer per session.

pub mod copy;
pub mod enrol;
pub mod feed;
mod keys;
pub mod limits;
pub mod mine;
mod nothing_found;
mod refusal;
pub mod reps;
pub mod roster;
mod search;
pub mod server;
pub mod webhook;

/// Each look at Autotask also reaches this far behind where the last one started, for
/// Autotask's clock being a little behind ours; what was already told or kept is not again.
const CLOCK_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
