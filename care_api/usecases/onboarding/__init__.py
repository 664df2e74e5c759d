"""Onboarding a centre: bulk import of elders, volunteers and merchants from spreadsheets."""
