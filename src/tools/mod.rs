//! Tool pins (placeholder).
