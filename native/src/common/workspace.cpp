#include "common/workspace.h"

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry() {
    static HandleRegistry<frnn_workspace> registry("frnn_workspace");
    return registry;
}

}  // namespace fusedrnn
