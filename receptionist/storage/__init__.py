"""Object storage: the only code that knows S3 (boto3), object keys, tags, encryption and the
bucket's configuration."""
