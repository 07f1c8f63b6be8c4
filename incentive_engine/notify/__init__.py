"""The notification door: delivers the notification stream to people (webhooks, Slack,
Microsoft Teams, e-mail)."""
