// What queue.position() and queue.job_status() share with the maintenance pass.
#pragma once

namespace queue {

// Read the renders running in this database and share them with its
// job_status() estimates (SPI connected), unless more run than the shared
// list holds or the list is recent (see kSharedRendersRefresh). Every pass
// calls it: a student's poll then reads the shared list, and never walks the
// index of processing jobs itself.
void ShareRunningRenders();

}  // namespace queue
