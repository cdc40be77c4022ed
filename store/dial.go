package store

import (
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Dial connects to what redis.url names: redis:// or rediss:// (one server),
// redis+sentinel://[user:pass@]host:port?master_name=NAME&addr=host2:port (Sentinel),
// redis+cluster://host:port?addr=host2:port or a comma-separated host:port list (Cluster).
func Dial(url string) (redis.UniversalClient, error) {
	switch {
	case strings.HasPrefix(url, "redis+sentinel://"):
		o, err := redis.ParseFailoverURL("redis://" + strings.TrimPrefix(url, "redis+sentinel://"))
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		return redis.NewFailoverClient(o), nil
	case strings.HasPrefix(url, "redis+cluster://"):
		o, err := redis.ParseClusterURL("redis://" + strings.TrimPrefix(url, "redis+cluster://"))
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		return redis.NewClusterClient(o), nil
	case !strings.Contains(url, "://") && strings.Contains(url, ","):
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(url, ",")}), nil
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	return redis.NewClient(o), nil
}
