#pragma once

#include <optional>
#include <string_view>

namespace og::test::emulator {

// Okta's user statuses (UserStatus in the spec).
enum class UserStatus { staged, provisioned, active, recovery, password_expired, locked_out, suspended, deprovisioned };

// The lifecycle operations oktaguard performs (plus the ones a test needs to reach every status).
enum class LifecycleOp { suspend, unsuspend, expire_password, reset_password, unlock };

std::string_view to_string(UserStatus s);
std::optional<UserStatus> parse_status(std::string_view s);

// The status after op, or nullopt when Okta refuses op in status `from` (403 E0000038, E0000032 for
// unlock). From the spec's operation descriptions:
//  - suspend: only ACTIVE -> SUSPENDED;
//  - unsuspend: only SUSPENDED -> ACTIVE;
//  - expire_password (also with a temp password): users with a password they can use
//    (ACTIVE, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT) -> PASSWORD_EXPIRED; a suspended user
//    "can only be unsuspended or deactivated";
//  - reset_password: the same set -> RECOVERY;
//  - unlock: only LOCKED_OUT -> ACTIVE.
std::optional<UserStatus> transition(UserStatus from, LifecycleOp op);

}  // namespace og::test::emulator
