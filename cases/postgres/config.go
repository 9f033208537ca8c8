package postgres

import (
	"github.com/jackc/pgx/v5"
)

func pgconnConfig(url string) (*pgx.ConnConfig, error) {
	return pgx.ParseConfig(url)
}
