// NOTIFY of render workers, once per transaction (see notify.hpp).
#include "queue/notify.hpp"

#include "queue/gucs.hpp"
#include "queue/pg.hpp"

extern "C" {
#include "commands/async.h"
}

namespace queue {

namespace {
LocalTransactionId notified_in = InvalidLocalTransactionId;
}

void NotifyClaimable(const char* payload) {
  if (!queue_notify || notified_in == MyProc->lxid) return;
  Async_Notify(kNotifyChannel, payload);
  notified_in = MyProc->lxid;
}

}  // namespace queue
