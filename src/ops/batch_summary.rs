//! What a batch did, in one line for both faces.

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub asked: usize,
    pub changed: Vec<String>,
    pub failed: Vec<String>,
    /// Refused at the write (changed since the preview, a guard): nothing was sent.
    pub not_sent: Vec<String>,
    pub skipped: Vec<String>,
    /// Targets already as asked: nothing to send.
    pub already: usize,
    /// The batch invoked its targets (nothing changed): said as invoked, not changed.
    pub invoked: bool,
}

impl Summary {
    /// Everything asked for changed and nothing was skipped.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
            && self.not_sent.is_empty()
            && self.skipped.is_empty()
            && self.changed.len() == self.asked
    }

    /// Every target the batch named: those sent and those skipped (a skip is not done).
    pub fn targets(&self) -> usize {
        self.asked + self.skipped.len() + self.already
    }

    pub fn line(&self) -> String {
        let verb = if self.invoked { "invoked" } else { "changed" };
        let mut line = format!("{verb} {} of {}", self.changed.len(), self.targets());
        if !self.failed.is_empty() {
            line.push_str(&format!("; failed: {}", self.failed.join("; ")));
        }
        if !self.not_sent.is_empty() {
            line.push_str(&format!("; not sent: {}", self.not_sent.join("; ")));
        }
        if !self.skipped.is_empty() {
            line.push_str(&format!("; skipped {}", self.skipped.len()));
        }
        if self.already > 0 {
            line.push_str(&format!("; {} already so", self.already));
        }
        line
    }
}
