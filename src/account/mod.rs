//! The account: who is signed in, seen from the app.
//!
//! One name in every layer: this folder (types, server functions under
//! `/api/account/*`, the header's account menu, the `/sign-in` page). The
//! session behind it (cookie, token, publisher keys) is `server::auth`.
//!
//! - [`model`]: user names and the signed-in account.
//! - [`api`]: server functions: me, sign in, sign out.
//! - [`context`]: the account resource every component reads; demo mode.
//! - [`menu`]: the header's bell, name and sign-out (or a sign-in link).
//! - [`signed_in`], [`sign_in_prompt`]: members-only content, and what
//!   visitors see instead.
//! - [`page`]: the `/sign-in` page.

pub mod api;
pub mod context;
pub mod menu;
pub mod model;
pub mod page;
pub mod sign_in_prompt;
pub mod signed_in;
