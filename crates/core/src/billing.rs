//! Billing rules for time entries: how a session's worked seconds become the hours Autotask
//! bills. The seed rounds up to the next hundredth of an hour; desks that bill in blocks
//! ("every started quarter hour, at least half an hour") set a block and a minimum per profile.

/// A profile's rules; the default is the seed's rounding alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillingRules {
    /// Round the worked time up to the next multiple of this many minutes (0: the seed's 0.01 h).
    pub rounding_minutes: u32,
    /// Bill at least this many minutes (0: no minimum).
    pub minimum_minutes: u32,
    /// Apply both rules to `hoursWorked` as well as to `hoursToBill`.
    pub round_hours_worked: bool,
}

/// Autotask takes at most a day in one time entry.
const MAX_HOURS: f64 = 24.0;

impl BillingRules {
    /// Whether any rule beyond the seed's rounding is set.
    pub fn is_set(&self) -> bool {
        self.rounding_minutes > 0 || self.minimum_minutes > 0
    }

    /// `hoursToBill`: the rules applied to the worked time.
    pub fn hours_to_bill(&self, seconds: u64) -> f64 {
        let mut minutes = seconds as f64 / 60.0;
        minutes = minutes.max(f64::from(self.minimum_minutes));
        if self.rounding_minutes > 0 {
            let block = f64::from(self.rounding_minutes);
            minutes = (minutes / block).ceil() * block;
        }
        hundredths_up(minutes / 60.0)
    }

    /// `hoursWorked`: the seed's rounding, or the billing rules when they apply to it too.
    pub fn hours_worked(&self, seconds: u64) -> f64 {
        if self.round_hours_worked { self.hours_to_bill(seconds) } else { hundredths_up(seconds as f64 / 3600.0) }
    }

    /// The rules in a line, as `check` and Settings say them.
    pub fn describe(&self) -> String {
        let block = match self.rounding_minutes {
            0 => "rounded up to the next 0.01 h (the seed's rounding)".to_owned(),
            n => format!("rounded up to the next {n} minutes"),
        };
        let minimum = match self.minimum_minutes {
            0 => String::new(),
            n => format!(", at least {n} minutes"),
        };
        let worked = if self.round_hours_worked { "hours worked and to bill" } else { "hours to bill" };
        format!("{worked} {block}{minimum}")
    }
}

/// Up to the next hundredth of an hour, at least 0.01 h and at most a day.
fn hundredths_up(hours: f64) -> f64 {
    // Worked out in whole hundredths so 0.25 h stays 0.25 and does not become 0.26 by float noise.
    let hundredths = (hours * 100.0 - 1e-9).ceil();
    (hundredths / 100.0).clamp(0.01, MAX_HOURS)
}

#[cfg(test)]
mod tests {
    use super::BillingRules;

    #[test]
    fn the_seed_rounds_up_to_the_hundredth() {
        let seed = BillingRules::default();
        assert_eq!(seed.hours_to_bill(902), 0.26);
        assert_eq!(seed.hours_worked(36), 0.01);
        assert_eq!(seed.hours_worked(37), 0.02);
        assert_eq!(seed.hours_worked(0), 0.01);
        assert_eq!(seed.hours_worked(200_000), 24.0);
        assert_eq!(seed.hours_worked(900), 0.25, "a quarter hour exactly");
    }

    #[test]
    fn quarter_hour_blocks_with_a_half_hour_minimum() {
        let desk = BillingRules { rounding_minutes: 15, minimum_minutes: 30, round_hours_worked: false };
        assert_eq!(desk.hours_to_bill(5 * 60), 0.5, "5 min bills the minimum");
        assert_eq!(desk.hours_to_bill(30 * 60), 0.5);
        assert_eq!(desk.hours_to_bill(31 * 60), 0.75, "a started block is billed");
        assert_eq!(desk.hours_to_bill(60 * 60), 1.0);
        assert_eq!(desk.hours_worked(31 * 60), 0.52, "hours worked keep the seed's rounding");
        let both = BillingRules { round_hours_worked: true, ..desk };
        assert_eq!(both.hours_worked(31 * 60), 0.75);
    }

    #[test]
    fn odd_blocks_round_up_to_the_hundredth_and_a_day_is_the_most() {
        let tenths = BillingRules { rounding_minutes: 10, ..Default::default() };
        assert_eq!(tenths.hours_to_bill(60), 0.17, "10 minutes is 0.1667 h, billed as 0.17");
        let six = BillingRules { rounding_minutes: 6, ..Default::default() };
        assert_eq!(six.hours_to_bill(7 * 60), 0.2);
        assert_eq!(BillingRules { minimum_minutes: 2000, ..Default::default() }.hours_to_bill(1), 24.0);
    }

    #[test]
    fn the_rules_read_as_a_sentence() {
        let desk = BillingRules { rounding_minutes: 15, minimum_minutes: 30, round_hours_worked: false };
        assert_eq!(desk.describe(), "hours to bill rounded up to the next 15 minutes, at least 30 minutes");
        assert!(!BillingRules::default().is_set());
    }
}
