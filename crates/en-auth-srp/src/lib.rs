//! # en-auth-srp
//!
//! `SrpAuthorizer`: log a user in to an AWS Cognito user pool over SRP (`USER_SRP_AUTH`) and
//! keep the session alive, behind en-auth's caching `Authorizer`.

pub mod srp;
