"""espnet"""
