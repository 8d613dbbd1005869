// The sysctl knobs a tunnel plugin turns on and its reset turns back off
// (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding). Record first, then
// act: a knob that was off is recorded in the plugin's store as
// "sysctl/<knob>", and the record has landed (not only been queued) before
// the knob is turned on, so that a crash at any point leaves nothing turned
// on that the next reset does not know about.
//
// Threading: as CommandQueue, on the plugin's strand.
#pragma once

#include "command_queue.hpp"

#include <functional>
#include <string>
#include <vector>

namespace mnigs::netcmd {

// sysctl -n KNOB (prints "0" or "1").
Command read_knob(const std::string& knob);
// sysctl -w KNOB=1, or KNOB=0 (a removal: the last step of a reset).
Command write_knob(const std::string& knob, bool on);

// For the running operation of `queue`: reads `knob`; when it is off,
// records that, then turns it on. `done(error, turned_on)`, unless the queue
// stops meanwhile: `turned_on` is false when the knob was on already (it is
// then neither recorded nor written, and no reset turns it off). When the
// record cannot be written the knob is left alone; when turning it on fails
// the record is erased.
void turn_on_knob(CommandQueue& queue, const std::string& knob,
                  std::function<void(std::string error, bool turned_on)> done);

// turn_on_knob for each of `knobs` in order, stopping at the first error;
// `turned_on(knob)` for each that this call turned on (the caller keeps
// them, to turn them off again at stop). `done(error)` as turn_on_knob's.
void turn_on_knobs(CommandQueue& queue, std::vector<std::string> knobs,
                   std::function<void(const std::string& knob)> turned_on,
                   std::function<void(std::string error)> done);

// The knobs recorded by this run or an earlier one, for a reset to turn off.
void recorded_knobs(CommandQueue& queue, std::function<void(std::vector<std::string>)> ready);
// Erases every record, once the knobs are off again.
void forget_knobs(KeyValueStore& store);

}  // namespace mnigs::netcmd
