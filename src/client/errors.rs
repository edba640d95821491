//! Server-function errors as people should read them.
//!
//! Owns turning a `ServerFnError` into the sentence a page shows; it must
//! not decide where or whether a page shows it.

use leptos::prelude::ServerFnError;

/// The server's own words for errors it raised (e.g. "name: …"), and a
/// plain sentence when the server could not be reached at all.
pub fn message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        ServerFnError::Request(_) | ServerFnError::Response(_) => {
            "The server could not be reached; try again.".to_owned()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_read_as_the_server_wrote_them() {
        let error: ServerFnError = ServerFnError::new("name: too long");
        assert_eq!(message(&error), "name: too long");
        let unreachable: ServerFnError = ServerFnError::Request("connection refused".into());
        assert_eq!(
            message(&unreachable),
            "The server could not be reached; try again."
        );
    }
}
