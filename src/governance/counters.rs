//! How much each limit has used in its current window, behind one small
//! interface: admit a request, add its usage, read an amount. In memory
//! here; replicas sharing one database will need a shared implementation.

use crate::domain::Micros;

pub(super) struct Charges;

pub trait Counters: Send + Sync {
    fn add_usage(&self, charges: &Charges, tokens: i64, cost: Micros);
}

#[derive(Default)]
pub struct MemoryCounters;

impl Counters for MemoryCounters {
    fn add_usage(&self, _charges: &Charges, _tokens: i64, _cost: Micros) {
        todo!()
    }
}
