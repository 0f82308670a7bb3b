//! Waits for cluster objects to reach desired states, with deadlines (watch-based, never polling).
