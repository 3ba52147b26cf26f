//! Stand-ins for the two systems bt-autotask talks to, built from `shared/spec/*.md` alone
//! (never from the client code), so a misunderstanding in a client cannot hide behind the same
//! misunderstanding here. They serve tests, benchmarks and the demo over real loopback HTTP.

pub mod autotask;
pub mod beyondtrust;
mod faults;
pub mod people;
