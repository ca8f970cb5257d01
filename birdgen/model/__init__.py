"""model: frozen, validated records parsed from raw resources."""
