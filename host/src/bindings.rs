//! The host side of the `customer-web:plugin` WIT package. A capability's
//! error is its interface's `error` ([`Fault::Error`](crate::Fault)),
//! which the component handles; a host bug is a trap
//! ([`Fault::Trap`](crate::Fault)).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // No `tracing` here: it would log import arguments (mail bodies with
    // their links, identities). The hand-written spans in `imports/` carry
    // no argument that could hold a secret.
    imports: { default: trappable },
    trappable_error_type: {
        "customer-web:plugin/storage.error" => crate::link::StorageFault,
        "customer-web:plugin/mail.error" => crate::link::MailFault,
        "customer-web:plugin/directory.error" => crate::link::DirectoryFault,
        "customer-web:plugin/config.error" => crate::link::ConfigFault,
        "customer-web:plugin/audit.error" => crate::link::AuditFault,
        "customer-web:plugin/hashing.error" => crate::link::HashingFault,
    },
    additional_derives: [PartialEq],
});
