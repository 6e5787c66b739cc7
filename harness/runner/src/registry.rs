//! All suites' tests, and selecting among them.

use std::sync::Arc;

use hilt_core::plan::{Plan, Selectable};

use crate::case::{Suite, TestCase};

#[derive(Debug, Default)]
pub struct Registry {
    pub suites: Vec<Arc<Suite>>,
}

impl Registry {
    pub fn new(suites: Vec<Suite>) -> Self {
        Registry {
            suites: suites.into_iter().map(Arc::new).collect(),
        }
    }

    pub fn suite(&self, name: &str) -> Option<&Arc<Suite>> {
        self.suites.iter().find(|s| s.name == name)
    }

    /// Every test, with its suite.
    pub fn all(&self) -> impl Iterator<Item = (&Arc<Suite>, &TestCase)> {
        self.suites
            .iter()
            .flat_map(|s| s.cases.iter().map(move |c| (s, c)))
    }

    /// The tests a plan selects, in registration order.
    pub fn select(&self, plan: &Plan) -> Vec<(Arc<Suite>, TestCase)> {
        self.all()
            .filter(|(s, c)| {
                plan.selects(&Selectable {
                    id: c.id.as_str(),
                    suite: s.name,
                    tags: &c.tags,
                })
            })
            .map(|(s, c)| (Arc::clone(s), c.clone()))
            .collect()
    }
}
