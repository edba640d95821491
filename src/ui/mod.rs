//! Building blocks every page shares, owned by no feature: the header, the
//! page heading and the live-connection dot. A block that belongs to one
//! feature lives in that feature's folder instead.
//!
//! - [`header`]: the top bar with brand, navigation and the account area.
//! - [`page_heading`]: a page's title and lead sentence.
//! - [`page_shell`]: the frame of a page: document title, heading, content.
//! - [`status_dot`]: the live-connection indicator.

pub mod header;
pub mod page_heading;
pub mod page_shell;
pub mod status_dot;
