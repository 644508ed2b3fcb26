//! Error classes: every error type of every ingot crate says which one it is.

/// Who has to act on an error, which decides what the host does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad configuration, a bad module or a bad row: report it with the
    /// identifiers of the thing at fault; retrying the same input will not help.
    User,
    /// The broker or the object store failed or timed out: back off and retry.
    External,
    /// A bug in ingot or a broken invariant: fail fast.
    Internal,
}

/// The class of an I/O error on a path the user named or configured: a
/// missing file, a permission refused or a path that is not a directory is
/// the user's to fix; anything else (a full disk, an interrupted call) is the
/// storage's, worth retrying.
pub fn io_class(e: &std::io::Error) -> ErrorClass {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound
        | K::PermissionDenied
        | K::AlreadyExists
        | K::NotADirectory
        | K::IsADirectory
        | K::ReadOnlyFilesystem
        | K::InvalidInput
        | K::InvalidFilename => ErrorClass::User,
        _ => ErrorClass::External,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_on_a_named_path_are_the_users_and_the_rest_external() {
        let kind = |k| io_class(&std::io::Error::from(k));
        assert_eq!(kind(std::io::ErrorKind::PermissionDenied), ErrorClass::User);
        assert_eq!(kind(std::io::ErrorKind::NotFound), ErrorClass::User);
        assert_eq!(kind(std::io::ErrorKind::StorageFull), ErrorClass::External);
        assert_eq!(kind(std::io::ErrorKind::Interrupted), ErrorClass::External);
    }
}
