//! The Cognito SRP math (placeholder).
