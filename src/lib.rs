//! mcpsig
