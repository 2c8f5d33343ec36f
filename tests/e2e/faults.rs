//! (fault-injection tests to be written)
