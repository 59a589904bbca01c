// Installs the simulator's global `wx` (and Component/Behavior) before any module under test
// is required, so utils/ can be tested on their own too.
require('miniprogram-simulate')
