//! The demo's support reps, shared by both stand-ins so a BeyondTrust username maps to an
//! Autotask resource e-mail (`<username>@<EMAIL_DOMAIN>`), as the seed's `defaultDomain` expects.

/// The domain of every demo rep's e-mail address.
pub const EMAIL_DOMAIN: &str = "example.com";

#[derive(Debug)]
pub struct DemoRep {
    pub username: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub active: bool,
}

pub const DEMO_REPS: &[DemoRep] = &[
    DemoRep { username: "alex.morgan", first_name: "Alex", last_name: "Morgan", active: true },
    DemoRep { username: "sam.lee", first_name: "Sam", last_name: "Lee", active: true },
    DemoRep { username: "jordan.kim", first_name: "Jordan", last_name: "Kim", active: true },
    DemoRep { username: "priya.patel", first_name: "Priya", last_name: "Patel", active: true },
    DemoRep { username: "chris.nguyen", first_name: "Chris", last_name: "Nguyen", active: true },
];
