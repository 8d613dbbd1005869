// Telling a service manager how the daemon is doing, systemd's way
// (sd_notify(3)) without libsystemd: one datagram to the unix socket named
// by $NOTIFY_SOCKET ("@name": the abstract namespace), such as "READY=1"
// once serving, "STOPPING=1" when shutting down, "STATUS=..." for
// `systemctl status`. Without $NOTIFY_SOCKET nothing is sent.
#pragma once

#include <string>
#include <string_view>

namespace mnigs {

// Sends `state` ("READY=1\nSTATUS=serving") to $NOTIFY_SOCKET. True when sent
// or when there is no such socket to tell; false, with why in `why`, when
// sending failed.
bool notify_service_manager(std::string_view state, std::string* why = nullptr);

}  // namespace mnigs
