package bag

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormatLikeROS2BagInfo(t *testing.T) {
	r, err := Open(filepath.Join(fixturesDir(t), "talker_sqlite3"))
	require.NoError(t, err)
	defer r.Close()
	want := `
Files:             talker.db3
Bag size:          29.6 KiB
Storage id:        sqlite3
Duration:          4.531096768s
Start:             Apr  2 2020 22:23:55.112411371 (1585866235.112411371)
End:               Apr  2 2020 22:23:59.643508139 (1585866239.643508139)
Messages:          20
Topic information: Topic: /topic | Type: std_msgs/msg/String | Count: 10 | Serialization Format: cdr
                   Topic: /rosout | Type: rcl_interfaces/msg/Log | Count: 10 | Serialization Format: cdr
                   Topic: /parameter_events | Type: rcl_interfaces/msg/ParameterEvent | Count: 0 | Serialization Format: cdr
`
	require.Equal(t, want, r.Info().Format(time.UTC))
}
