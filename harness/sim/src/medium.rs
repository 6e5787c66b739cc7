//! The radio medium: who hears whom, and how well.

use std::collections::BTreeMap;

use crate::scenario::{Position, Radio};

/// Neighbour lists with packet reception ratios, kept symmetric.
#[derive(Debug, Clone)]
pub(crate) struct Medium {
    pub pos: Vec<Position>,
    /// For each node, (neighbour, reception ratio), by neighbour index.
    adj: Vec<Vec<(u32, f64)>>,
    disk: Option<(f64, f64)>,
    /// Link qualities set by scenario events, which survive moves.
    overrides: BTreeMap<(usize, usize), f64>,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Medium {
    pub fn new(pos: Vec<Position>, radio: &Radio) -> Result<Self, String> {
        let n = pos.len();
        let mut m = Medium {
            adj: vec![Vec::new(); n],
            pos,
            disk: None,
            overrides: BTreeMap::new(),
        };
        match radio {
            Radio::UnitDisk {
                range,
                loss_at_edge,
                ..
            } => {
                if range.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                    || !(0.0..=1.0).contains(loss_at_edge)
                {
                    return Err(format!(
                        "unit-disk radio needs range > 0 and loss_at_edge in [0, 1], got {range} and {loss_at_edge}"
                    ));
                }
                m.disk = Some((*range, *loss_at_edge));
                m.build_disk();
            }
            Radio::Links { links, .. } => {
                for l in links {
                    if l.a >= n || l.b >= n || l.a == l.b || !(0.0..=1.0).contains(&l.prr) {
                        return Err(format!(
                            "link {}-{} (prr {}) names a node outside 0..{n}, itself, or a ratio outside [0, 1]",
                            l.a, l.b, l.prr
                        ));
                    }
                    m.set(l.a, l.b, Some(l.prr));
                }
            }
        }
        Ok(m)
    }

    /// Unit disk, with nodes bucketed by cells of one range so each looks only at the
    /// nine cells around it: thousands of nodes stay cheap.
    fn build_disk(&mut self) {
        let Some((range, _)) = self.disk else { return };
        let cell = |p: &Position| ((p.x / range).floor() as i64, (p.y / range).floor() as i64);
        let mut grid: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
        for (i, p) in self.pos.iter().enumerate() {
            grid.entry(cell(p)).or_default().push(i);
        }
        for a in &mut self.adj {
            a.clear();
        }
        for i in 0..self.pos.len() {
            let (cx, cy) = cell(&self.pos[i]);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for &j in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                        if j != i
                            && let Some(p) = self.disk_prr(i, j)
                        {
                            self.adj[i].push((j as u32, p));
                        }
                    }
                }
            }
            self.adj[i].sort_by_key(|&(j, _)| j);
        }
        let overrides: Vec<_> = self.overrides.iter().map(|(k, v)| (*k, *v)).collect();
        for ((a, b), prr) in overrides {
            self.set(a, b, Some(prr));
        }
    }

    fn disk_prr(&self, i: usize, j: usize) -> Option<f64> {
        let (range, loss) = self.disk?;
        let (a, b) = (self.pos[i], self.pos[j]);
        let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
        (d <= range).then(|| 1.0 - loss * (d / range).powi(2))
    }

    fn set(&mut self, a: usize, b: usize, prr: Option<f64>) {
        for (x, y) in [(a, b), (b, a)] {
            let list = &mut self.adj[x];
            let at = list.binary_search_by_key(&(y as u32), |&(j, _)| j);
            match (at, prr) {
                (Ok(k), Some(p)) => list[k].1 = p,
                (Ok(k), None) => {
                    list.remove(k);
                }
                (Err(k), Some(p)) => list.insert(k, (y as u32, p)),
                (Err(_), None) => {}
            }
        }
    }

    pub fn neighbors(&self, i: usize) -> &[(u32, f64)] {
        &self.adj[i]
    }

    pub fn prr(&self, i: usize, j: usize) -> Option<f64> {
        let list = &self.adj[i];
        list.binary_search_by_key(&(j as u32), |&(k, _)| k)
            .ok()
            .map(|k| list[k].1)
    }

    pub fn degrade(&mut self, a: usize, b: usize, prr: f64) {
        self.overrides.insert(key(a, b), prr);
        self.set(a, b, Some(prr));
    }

    pub fn move_node(&mut self, i: usize, to: Position) {
        self.pos[i] = to;
        if self.disk.is_some() {
            self.build_disk();
        }
    }
}
